"""Segmenter behaviour on known probability curves."""

import numpy as np

from tagger.pipeline.segments import SegmenterConfig, hysteresis, segment_track

CONFIG = SegmenterConfig(classes=["saxophone", "piano"], thresholds=[0.5, 0.5], window_s=4.0,
                         hop_s=2.0, smooth_chunks=1)


def test_hysteresis_keeps_a_segment_through_a_dip_above_the_off_threshold() -> None:
    scores = np.array([0.1, 0.6, 0.45, 0.6, 0.2, 0.1])
    assert hysteresis(scores, 0.5, 0.4).tolist() == [False, True, True, True, False, False]


def test_segments_cover_the_active_chunks_and_every_class_gets_a_summary() -> None:
    presence = np.zeros((10, 2), np.float32)
    presence[3:6, 0] = 0.9  # sax in chunks 3..5
    presence[:, 1] = 0.05  # no piano
    segments, summary = segment_track(presence, None, duration_s=22.0, config=CONFIG)
    assert [(s.instrument, s.start, s.end, s.role) for s in segments] == [
        ("saxophone", 7.0, 13.0, "foreground")
    ]
    by_name = {s.instrument: s for s in summary}
    assert set(by_name) == {"saxophone", "piano"}
    assert by_name["saxophone"].score == 0.9 and by_name["saxophone"].role == "foreground"
    assert abs(by_name["saxophone"].coverage - 6.0 / 22.0) < 1e-3
    assert by_name["piano"].coverage == 0.0 and by_name["piano"].role is None


def test_role_head_splits_a_segment_into_background_and_foreground() -> None:
    presence = np.full((8, 2), 0.9, np.float32)
    foreground = np.zeros((8, 2), np.float32)
    foreground[4:, 0] = 0.9  # sax takes the lead half way through
    segments, _ = segment_track(presence, foreground, duration_s=18.0, config=CONFIG)
    sax = [(s.start, s.end, s.role) for s in segments if s.instrument == "saxophone"]
    assert sax == [(0.0, 9.0, "background"), (9.0, 18.0, "foreground")]


def test_segments_never_pass_the_track_end() -> None:
    presence = np.full((3, 2), 0.9, np.float32)
    segments, summary = segment_track(presence, None, duration_s=5.5, config=CONFIG)
    assert max(s.end for s in segments) == 5.5
    assert all(0 <= s.coverage <= 1 for s in summary)
