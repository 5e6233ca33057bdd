"""`tagger export`: the DESIGN.md export format, checked field by field on a real store."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from library_store import ERROR_PATH, LIBRARY, MODEL, track_result
from tagger.cli.app import app
from tagger.export import export_tracks, track_record
from tagger.store import InstrumentSummary, SegmentRow, Store
from tagger.taxonomy import CLASSES

runner = CliRunner()
TOP_KEYS = {"path", "duration", "model", "status", "instruments", "segments"}


def check_contract(record: dict) -> None:
    """The shape other tools rely on (DESIGN.md, "Export format")."""
    if record["status"] == "error":
        assert set(record) == TOP_KEYS | {"error"}
        assert record["error"] and record["instruments"] == {} and record["segments"] == []
        return
    assert set(record) == TOP_KEYS and record["status"] == "ok"
    assert isinstance(record["path"], str) and record["path"].startswith("/")
    assert isinstance(record["duration"], float) and record["model"] == MODEL
    assert set(CLASSES) <= set(record["instruments"])
    for entry in record["instruments"].values():
        assert set(entry) == {"score", "coverage", "role"}
        assert 0.0 <= entry["score"] <= 1.0 and 0.0 <= entry["coverage"] <= 1.0
        assert entry["role"] in (None, "foreground", "background")
    for seg in record["segments"]:
        assert set(seg) == {"instrument", "start", "end", "confidence", "role"}
        assert 0.0 <= seg["start"] < seg["end"] <= record["duration"]
        assert 0.0 <= seg["confidence"] <= 1.0 and seg["role"] in ("foreground", "background")
        assert seg["instrument"] in record["instruments"]


def test_every_track_every_class(store: Store) -> None:
    records = list(export_tracks(store))
    assert sorted(r["path"] for r in records) == sorted([*LIBRARY, ERROR_PATH])
    for record in records:
        check_contract(record)
    so_what = next(r for r in records if r["path"].endswith("So What.flac"))
    assert list(so_what["instruments"]) == sorted(CLASSES)
    assert so_what["instruments"]["saxophone"] == {"score": 0.95, "coverage": 0.5, "role": "foreground"}
    assert so_what["instruments"]["clarinet"] == {"score": 0.1, "coverage": 0.0, "role": None}
    assert so_what["duration"] == 200.0
    sax = [s for s in so_what["segments"] if s["instrument"] == "saxophone"]
    assert sax == [{"instrument": "saxophone", "start": 0.0, "end": 50.0, "confidence": 0.8, "role": "foreground"},
                   {"instrument": "saxophone", "start": 150.0, "end": 200.0, "confidence": 0.7, "role": "foreground"}]
    starts = [s["start"] for s in so_what["segments"]]
    assert starts == sorted(starts)


def test_error_rows(store: Store) -> None:
    [record] = list(export_tracks(store, status="error"))
    assert record == {"path": ERROR_PATH, "duration": None, "model": MODEL, "status": "error",
                      "error": "decode failed: invalid data", "instruments": {}, "segments": []}
    assert len(list(export_tracks(store, status="ok"))) == len(LIBRARY)


def test_missing_class_rows_filled_and_scores_clamped(tmp_path: Path) -> None:
    with Store(tmp_path / "odd.db") as s:
        full = track_result("/a/full.wav", 10.0, "wav", {"voice": (0.9, 0.5, "foreground")})
        # An older/partial write: two rows only, one with out-of-range numbers.
        partial = track_result("/a/partial.wav", 10.0, "wav", {})
        partial.instruments = [InstrumentSummary("voice", 1.7, 0.3, "background"),
                               InstrumentSummary("drums", -0.2, 0.0, None)]
        partial.segments = [SegmentRow("voice", 1.0, 4.0, 1.2, "background")]
        s.write_results([full, partial])
        records = {r["path"]: r for r in export_tracks(s)}
        rec = records["/a/partial.wav"]
        assert list(rec["instruments"]) == sorted(CLASSES)  # the model's classes, from other tracks
        assert rec["instruments"]["voice"]["score"] == 1.0
        assert rec["instruments"]["drums"]["score"] == 0.0
        assert rec["instruments"]["piano"] == {"score": 0.0, "coverage": 0.0, "role": None}
        assert rec["segments"][0]["confidence"] == 1.0
        for r in records.values():
            check_contract(r)
        # One track's record (what `tagger show --json` prints) is the same record.
        assert track_record(s, s.find_track("/a/full.wav")) == records["/a/full.wav"]


def test_streams_in_id_order_with_interleaved_rewrites(tmp_path: Path) -> None:
    # Rewriting a track moves its rows to new rowids; the merge must still pair them right.
    with Store(tmp_path / "re.db") as s:
        s.write_results([track_result(f"/m/{i}.mp3", 60.0, "mp3", {"drums": (0.5 + i / 100, 0.5, "background")})
                         for i in range(20)])
        s.write_results([track_result("/m/3.mp3", 60.0, "mp3", {"piano": (0.9, 0.2, "foreground")})])
        records = {r["path"]: r for r in export_tracks(s)}
        assert records["/m/3.mp3"]["instruments"]["drums"]["coverage"] == 0.0
        assert {x["instrument"] for x in records["/m/3.mp3"]["segments"]} == {"piano"}
        assert records["/m/7.mp3"]["instruments"]["drums"]["score"] == 0.57
        assert all(len(r["segments"]) == 2 for p, r in records.items() if p != "/m/3.mp3")


def test_cli_stdout_and_file(store: Store, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(LIBRARY) + 1
    for line in lines:
        check_contract(json.loads(line))

    out = tmp_path / "out" / "export.jsonl"
    out.parent.mkdir()
    result = runner.invoke(app, ["export", "--db", str(store.path), "-o", str(out), "--status", "ok"])
    assert result.exit_code == 0, result.output
    assert f"exported {len(LIBRARY)} tracks" in result.output
    assert [json.loads(x)["status"] for x in out.read_text(encoding="utf-8").splitlines()] == ["ok"] * len(LIBRARY)
    assert [p.name for p in out.parent.iterdir()] == ["export.jsonl"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not mkstemp's private 0600
    out.chmod(0o640)  # a rewrite keeps the permissions of the file it replaces
    assert runner.invoke(app, ["export", "--db", str(store.path), "-o", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(LIBRARY) + 1

    assert runner.invoke(app, ["export", "--db", str(store.path), "--status", "bad"]).exit_code == 2
    assert runner.invoke(app, ["export", "--db", str(tmp_path / "missing.db")]).exit_code == 2
