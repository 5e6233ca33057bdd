"""Turn per-chunk probabilities into segments and per-track summaries.

smooth -> threshold with hysteresis -> runs of active chunks -> split by role -> merge.
Pure numpy; the thresholds come from the model card, calibrated on held-out data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tagger.store.rows import InstrumentSummary, SegmentRow

if TYPE_CHECKING:
    from tagger.model.card import ModelCard

# Off-threshold = on-threshold * HYSTERESIS: a segment starts at the calibrated threshold and
# only ends when the score falls clearly below it, so it does not flicker around the threshold.
HYSTERESIS = 0.75
# With no role head, an active instrument is "foreground" when its score is within this margin
# of the most confident instrument in the chunk (the lead is what the model hears most clearly).
RELATIVE_ROLE_MARGIN = 0.15


@dataclass(frozen=True)
class SegmenterConfig:
    """Window thresholds draw the segments; the track gate (``track_thresholds`` on the
    track score, ``min_evidence_s`` of segments) decides whether a class is reported at all,
    so a lone window above threshold does not become an answer. Both are calibrated on real
    music and kept in the model card's ``decision``."""

    classes: Sequence[str]
    thresholds: Sequence[float]
    window_s: float
    hop_s: float
    smooth_chunks: int = 3
    track_thresholds: Sequence[float] | None = None
    min_evidence_s: float = 0.0

    @classmethod
    def from_card(cls, card: "ModelCard") -> "SegmenterConfig":
        """The segmenter a card describes: window thresholds plus its calibrated decision."""
        decision = card.decision or {}
        track = decision.get("track_thresholds")
        return cls(
            classes=card.classes, thresholds=[card.threshold(c) for c in card.classes],
            window_s=card.window_s, hop_s=card.hop_s,
            smooth_chunks=int(decision.get("smooth_chunks", 3)),
            track_thresholds=None if track is None else [float(track.get(c, 1.0))
                                                         for c in card.classes],
            min_evidence_s=float(decision.get("min_evidence_s", 0.0)))


def track_score(smoothed: np.ndarray) -> np.ndarray:
    """A track's confidence per class: the largest smoothed window probability."""
    if not len(smoothed):
        return np.zeros(smoothed.shape[1] if smoothed.ndim == 2 else 0, dtype=np.float32)
    return np.clip(smoothed.max(axis=0), 0.0, 1.0)


def smooth(probs: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` chunks along time (edges use what exists)."""
    if width <= 1 or len(probs) < 2:
        return probs
    kernel = np.ones(width, dtype=np.float64)
    padded = np.pad(probs, ((width // 2, width - 1 - width // 2), (0, 0)), mode="edge")
    cumsum = np.cumsum(np.vstack([np.zeros((1, probs.shape[1])), padded]), axis=0)
    return ((cumsum[width:] - cumsum[:-width]) / kernel.sum()).astype(np.float32)


def hysteresis(scores: np.ndarray, on: float, off: float) -> np.ndarray:
    """Boolean activity: switches on at ``on``, stays on while ``>= off``."""
    active = np.zeros(len(scores), dtype=bool)
    if not (scores >= on).any():  # never switches on (most classes of most tracks): no loop
        return active
    state = False
    for i, value in enumerate(scores):
        state = value >= on if not state else value >= off
        active[i] = state
    return active


def chunk_roles(presence: np.ndarray, foreground: np.ndarray | None, active: np.ndarray) -> np.ndarray:
    """True where an active instrument is in the foreground of its chunk."""
    if foreground is not None:
        return foreground >= 0.5
    masked = np.where(active, presence, -1.0)
    best = masked.max(axis=1, keepdims=True)
    return presence >= best - RELATIVE_ROLE_MARGIN


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a boolean vector."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2]))


def _majority(values: np.ndarray) -> np.ndarray:
    """Majority filter of width 3, so a single odd chunk does not split a segment."""
    if len(values) < 3:
        return values
    out = values.copy()
    out[1:-1] = (values[:-2].astype(int) + values[1:-1] + values[2:]) >= 2
    return out


def segment_track(
    presence: np.ndarray,
    foreground: np.ndarray | None,
    *,
    duration_s: float,
    config: SegmenterConfig,
) -> tuple[list[SegmentRow], list[InstrumentSummary]]:
    """Segments for one track and a summary row for every class (absent ones included)."""
    smoothed = smooth(presence, config.smooth_chunks)
    smoothed_fg = None if foreground is None else smooth(foreground, config.smooth_chunks)
    thresholds = np.asarray(config.thresholds, dtype=np.float32)
    active = np.column_stack(
        [hysteresis(smoothed[:, c], t, t * HYSTERESIS) for c, t in enumerate(thresholds)]
    ) if len(smoothed) else np.zeros_like(smoothed, dtype=bool)
    roles = chunk_roles(smoothed, smoothed_fg, active)
    # Each chunk "owns" the hop-long stretch at its centre; the first and last reach the ends.
    offset = (config.window_s - config.hop_s) / 2
    n = len(smoothed)

    def chunk_time(index: int) -> float:
        if index <= 0:
            return 0.0
        if index >= n:
            return float(duration_s)
        return float(min(duration_s, index * config.hop_s + offset))

    scores = track_score(smoothed)
    segments: list[SegmentRow] = []
    summaries: list[InstrumentSummary] = []
    any_active = active.any(axis=0)  # classes never active need no runs (most of them)
    for c, name in enumerate(config.classes):
        covered = 0.0
        foreground_time = 0.0
        class_segments: list[SegmentRow] = []
        for start, stop in _runs(active[:, c]) if any_active[c] else ():
            role_run = _majority(roles[start:stop, c])
            for sub_start, sub_stop in _runs(role_run) + _runs(~role_run):
                a, b = start + sub_start, start + sub_stop
                t0, t1 = chunk_time(a), chunk_time(b)
                if t1 <= t0:
                    continue
                role = "foreground" if role_run[sub_start] else "background"
                confidence = float(np.clip(smoothed[a:b, c].mean(), 0.0, 1.0))
                class_segments.append(SegmentRow(name, round(t0, 3), round(t1, 3),
                                                 round(confidence, 4), role))
                covered += t1 - t0
                if role == "foreground":
                    foreground_time += t1 - t0
        score = float(scores[c]) if n else 0.0
        if class_segments and not _passes_gate(config, c, score, covered, duration_s):
            class_segments, covered, foreground_time = [], 0.0, 0.0
        segments.extend(class_segments)
        coverage = float(min(1.0, covered / duration_s)) if duration_s > 0 else 0.0
        role = None
        if covered > 0:
            role = "foreground" if foreground_time >= covered / 2 else "background"
        summaries.append(InstrumentSummary(name, round(score, 4), round(coverage, 4), role))
    segments.sort(key=lambda s: (s.instrument, s.start))
    return segments, summaries


def _passes_gate(config: SegmenterConfig, c: int, score: float, covered_s: float,
                 duration_s: float) -> bool:
    """Whether class ``c``'s segments are reported: its track score reaches the track
    threshold and the segments cover at least ``min_evidence_s`` (or the whole track)."""
    if config.track_thresholds is not None and score < config.track_thresholds[c]:
        return False
    return covered_s >= min(config.min_evidence_s, 0.999 * duration_s)
