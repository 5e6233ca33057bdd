"""The labeling library without HTTP: clip grid, queue order, label storage, export, examples."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tagger.cli.app import app
from tagger.label.clips import ClipId, ClipIndex, LabelQueue, clip_count, clip_table
from tagger.label.dataset import labeled_clips
from tagger.label.labels import counts, done_keys, export_csv, record_labels, record_skip
from tagger.store import Store
from tagger.taxonomy import UnknownInstrumentError
from tagger.train.humanlabels import labeled_examples
from label_support import CLASSES, make_store


def test_clip_ids_parse_strictly() -> None:
    assert ClipId.parse("12-3") == ClipId(12, 3)
    assert str(ClipId(12, 3)) == "12-3"
    for bad in ["", "12", "-1-2", "1-2-3", "../etc", "1- 2", "1-2\n", "١-٢", "9" * 13 + "-1"]:
        with pytest.raises(ValueError):
            ClipId.parse(bad)


def test_clip_grid_folds_a_short_tail() -> None:
    assert clip_count(12.0) == 3  # 0-5, 5-10, 10-12 (2 s: long enough)
    assert clip_count(11.0) == 2  # the 1-s tail is folded away
    assert clip_count(0.5) == 1 and clip_count(0.0) == 1


def test_clip_table_takes_the_max_of_chunks_centred_inside() -> None:
    presence = np.array([[0.1], [0.9], [0.2], [0.3]], np.float32)
    p, fg = clip_table(presence, None, window_s=2.0, hop_s=2.0, duration=10.0, clip_s=5.0)
    # centres 1, 3 -> clip 0; 5, 7 -> clip 1
    assert fg is None and p[:, 0].tolist() == pytest.approx([0.9, 0.3])
    # A model window longer than the clip: the nearest chunk stands in.
    p, _ = clip_table(np.array([[0.4], [0.8]], np.float32), None, window_s=20.0, hop_s=20.0,
                      duration=40.0, clip_s=5.0)
    assert len(p) == 8 and np.isfinite(p).all()


def test_queue_puts_uncertain_clips_first_spread_over_tracks(tmp_path: Path) -> None:
    db, _ = make_store(tmp_path)
    with Store(db) as store:
        index = ClipIndex.load(store)
        order = index.order(index.resolve_instruments("all"), done=done_keys(store))
    assert [str(c) for c in order[:5]] == ["2-1", "3-0", "3-1", "3-2", "1-0"]
    assert len(order) == 9
    sax_only = index.order(["saxophone"], done=set(), per_track_cap=1)
    assert str(sax_only[0]) == "3-0" and len(sax_only) == 3
    shuffled = index.order(["voice"], order="random", done=set(), seed=7)
    assert sorted(shuffled) == sorted(order)
    assert shuffled == index.order(["voice"], order="random", done=set(), seed=7)


def test_instrument_names_resolve_through_the_taxonomy(tmp_path: Path) -> None:
    db, _ = make_store(tmp_path)
    with Store(db) as store:
        index = ClipIndex.load(store)
    assert index.resolve_instruments("all") == CLASSES
    assert index.resolve_instruments("sax, vocals") == ["saxophone", "voice"]
    assert index.resolve_instruments("keys") == ["piano", "organ"]  # organ: known, unscored
    with pytest.raises(UnknownInstrumentError):
        index.resolve_instruments("kazoo")
    clip = index.clip(ClipId(2, 1), ["piano", "organ"])
    assert clip is not None and set(clip.guess) == {"piano"}
    assert clip.guess["piano"].presence == pytest.approx(0.5)
    assert index.clip(ClipId(2, 3), ["piano"]) is None  # past the end
    assert index.clip(ClipId(99, 0), ["piano"]) is None


def test_labels_replace_per_clip_and_skips_leave_the_queue(tmp_path: Path) -> None:
    db, _ = make_store(tmp_path)
    with Store(db) as store:
        record_labels(store, track_id=2, start=5.0, end=10.0,
                      roles={"voice": "foreground", "piano": "background", "saxophone": "none"})
        record_labels(store, track_id=2, start=5.0, end=10.0, roles={"piano": "none"})
        record_skip(store, track_id=3, start=0.0, end=5.0)
        assert counts(store).labeled == 1 and counts(store).skipped == 1
        rows = store.conn.execute(
            "SELECT instrument, role FROM labels ORDER BY instrument").fetchall()
        assert rows == [("piano", "none"), ("saxophone", "none"), ("voice", "foreground")]
        with pytest.raises(ValueError):
            record_labels(store, track_id=2, start=0.0, end=5.0, roles={"voice": "maybe"})
        index = ClipIndex.load(store)
        order = [str(c) for c in index.order(CLASSES, done=done_keys(store))]
    assert "2-1" not in order and "3-0" not in order and len(order) == 7
    queue = LabelQueue([ClipId(1, 0), ClipId(1, 1)])
    assert queue.current() == ClipId(1, 0) and queue.current() == ClipId(1, 0)  # a peek
    queue.mark_done(ClipId(1, 0))
    assert queue.current() == ClipId(1, 1) and queue.remaining() == 1


def test_export_csv_and_the_cli(tmp_path: Path) -> None:
    db, paths = make_store(tmp_path)
    with Store(db) as store:
        record_labels(store, track_id=1, start=0.0, end=5.0,
                      roles={"voice": "foreground", "piano": "none"})
        out = io.StringIO()
        assert export_csv(store, out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["path"] == str(paths[0].resolve()) and rows[0]["instrument"] == "piano"
    assert rows[1]["role"] == "foreground" and float(rows[1]["end"]) == 5.0
    runner = CliRunner()
    result = runner.invoke(app, ["labels", "export", "--db", str(db), "--csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "track_id,path,start,end,instrument,role,labeled_at"
    target = tmp_path / "labels.jsonl"
    result = runner.invoke(app, ["labels", "export", "--db", str(db), "--jsonl", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["instrument"] for line in target.read_text().splitlines()] == [
        "piano", "voice"]
    result = runner.invoke(app, ["labels", "export", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2


def test_labeled_examples_follow_the_label_meaning(tmp_path: Path) -> None:
    db, paths = make_store(tmp_path)
    with Store(db) as store:
        record_labels(store, track_id=1, start=10.0, end=12.0,
                      roles={"voice": "foreground", "piano": "background", "saxophone": "none"})
        record_labels(store, track_id=2, start=0.0, end=5.0, roles={"voice": "none"})
        clips = list(labeled_clips(store))
        assert [(c.track_id, c.start) for c in clips] == [(1, 10.0), (2, 0.0)]
        examples = list(labeled_examples(store, sample_rate=8000, window_s=5.0, classes=CLASSES))
        assert len(examples) == 2
        first = examples[0]
        assert first.audio.shape == (40000,) and first.audio.dtype == np.float32
        assert np.abs(first.audio[:16000]).max() > 0.1 and not first.audio[16000:].any()  # padded
        assert first.presence.tolist() == [1, 1, 0] and first.foreground.tolist() == [1, 0, 0]
        assert first.mask.tolist() == [1, 1, 1] and first.source == f"labels:{paths[0].resolve()}"
        assert examples[1].mask.tolist() == [1, 0, 0] and examples[1].presence.tolist() == [0, 0, 0]
        # Windows shorter than the clip: tiles; positives kept only when a tile covers half of it.
        tiles = list(labeled_examples(store, sample_rate=8000, window_s=2.0, classes=CLASSES))
        assert len(tiles) == 1 + 3 and all(len(t.audio) == 16000 for t in tiles)
        assert tiles[0].presence.tolist() == [1, 1, 0]  # the 2-s clip fits one 2-s window
        paths[0].unlink()  # a file gone since: its labels are skipped, not fatal
        assert len(list(labeled_examples(store, sample_rate=8000, window_s=5.0))) == 1


@pytest.mark.slow
def test_a_real_scan_feeds_the_page(tmp_path: Path, tiny_model: Path) -> None:
    """The contract with the scanner: its chunk_scores become clips the page can play."""
    from audiofiles import tone, write_audio

    from tagger.label.api import LabelApp, LabelOptions

    lib = tmp_path / "lib"
    lib.mkdir()
    write_audio(lib / "a.flac", tone(11.0, 22050), 22050)
    write_audio(lib / "b.mp3", tone(4.0, 22050, freq=660.0), 22050)
    db = tmp_path / "scan.db"
    result = CliRunner().invoke(app, ["scan", str(lib), "--db", str(db), "--model", str(tiny_model),
                                      "--workers", "0", "-q"])
    assert result.exit_code == 0, result.output
    label_app = LabelApp(db, LabelOptions(instruments="sax,voice"))
    assert label_app.instruments == ["saxophone", "voice"]
    assert label_app.queue.remaining() == 2 + 1  # 11 s: 0-5, 5-10 (1-s tail folded); 4 s: one
    state = label_app.next_payload()
    assert set(state["clip"]["guess"]) == {"saxophone", "voice"}
    for _ in range(3):
        clip_id = label_app.next_payload()["clip"]["id"]
        assert label_app.audio(clip_id)[:4] == b"RIFF"
        label_app.submit({"clip": clip_id, "labels": {"saxophone": "none", "voice": "none"}})
    assert label_app.next_payload()["clip"] is None
    with Store(db) as store:
        assert len(list(labeled_examples(store, sample_rate=8000, window_s=2.0))) == 2 * 3 + 2
