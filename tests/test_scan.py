"""End-to-end scans of real files in every format, good and bad, into a real SQLite store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from audiofiles import FORMATS, tone, write_audio
from tagger import ScanOptions, scan
from tagger.store import Store, StoreError
from tagger.taxonomy import CLASSES


def make_library(folder: Path) -> dict[str, float]:
    """One 3-4 s track per format; returns file name -> duration."""
    folder.mkdir(parents=True, exist_ok=True)
    durations = {}
    for i, ext in enumerate(FORMATS):
        seconds = 3.0 + 0.25 * i
        write_audio(folder / f"track{i}{ext}", tone(seconds, 44100, freq=220 * (i + 1), channels=2),
                    44100, title=f"Track {i}", artist="Tester")
        durations[f"track{i}{ext}"] = seconds
    return durations


def options(model: Path, **kw) -> ScanOptions:
    return ScanOptions(model=str(model), device="cpu", **{"workers": 1, "batch_size": 8, **kw})


def rows(db: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    out = {os.path.basename(p): (status, error, duration)
           for p, status, error, duration in conn.execute("SELECT path, status, error, duration FROM tracks")}
    conn.close()
    return out


@pytest.mark.slow
def test_scan_every_format_then_skip_unchanged_then_rescan_changed(tmp_path: Path, tiny_model: Path) -> None:
    durations = make_library(tmp_path / "lib")
    db = tmp_path / "t.db"
    with Store(db) as store:
        report = scan([str(tmp_path / "lib")], store=store, options=options(tiny_model))
    assert (report.scanned, report.failed) == (len(FORMATS), 0), report.failures
    stored = rows(db)
    for name, seconds in durations.items():
        status, error, duration = stored[name]
        assert status == "ok" and error is None
        assert abs(duration - seconds) < 0.1, (name, duration)
    conn = sqlite3.connect(db)
    per_track = conn.execute("SELECT COUNT(*) FROM track_instruments GROUP BY track_id").fetchall()
    assert per_track == [(len(CLASSES),)] * len(FORMATS)  # every class, present or not
    conn.close()

    with Store(db) as store:
        again = scan([str(tmp_path / "lib")], store=store, options=options(tiny_model))
    assert (again.scanned, again.skipped) == (0, len(FORMATS))

    touched = tmp_path / "lib" / "track0.wav"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    with Store(db) as store:
        third = scan([str(tmp_path / "lib")], store=store, options=options(tiny_model))
        forced = scan([str(tmp_path / "lib")], store=store, options=options(tiny_model, force=True))
    assert (third.scanned, third.skipped) == (1, len(FORMATS) - 1)
    assert forced.scanned == len(FORMATS)
    assert len(rows(db)) == len(FORMATS)


@pytest.mark.slow
def test_workers_zero_and_two_give_the_same_results(tmp_path: Path, tiny_model: Path) -> None:
    make_library(tmp_path / "lib")
    results = []
    for workers in (0, 2):
        db = tmp_path / f"w{workers}.db"
        with Store(db) as store:
            scan([str(tmp_path / "lib")], store=store, options=options(tiny_model, workers=workers))
            results.append({
                os.path.basename(t["path"]): store.chunk_scores(t["id"])["presence"]
                for t in store.iter_tracks()
            })
    assert results[0].keys() == results[1].keys()
    for name in results[0]:
        np.testing.assert_allclose(results[0][name], results[1][name], atol=2e-3)


@pytest.mark.slow
def test_bad_files_become_error_rows_and_the_scan_goes_on(tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_audio(lib / "good.flac", tone(3.0), 44100)
    (lib / "empty.mp3").write_bytes(b"")
    (lib / "readme.mp3").write_text("This is not music.\n" * 20)
    (lib / "noise.m4a").write_bytes(np.random.default_rng(0).bytes(20000))
    full = write_audio(tmp_path / "full.flac", tone(6.0), 44100).read_bytes()
    (lib / "truncated.flac").write_bytes(full[: len(full) // 3])
    write_audio(lib / "blip.wav", tone(0.1), 44100)
    write_audio(lib / "surround.flac", tone(2.0, 192000, channels=8), 192000)
    write_audio(lib / "phone.wav", tone(2.0, 8000), 8000)
    write_audio(lib / "Ünïcödé ♪ 音楽.ogg", tone(2.0), 44100)
    raw = os.path.join(os.fsencode(lib), b"latin1-\xe9t\xe9.wav")
    write_audio(Path(os.fsdecode(raw)), tone(2.0), 44100)

    db = tmp_path / "t.db"
    with Store(db) as store:
        report = scan([str(lib)], store=store, options=options(tiny_model))
        errors = {os.path.basename(p): msg for p, msg in report.failures}
        assert set(errors) == {"empty.mp3", "readme.mp3", "noise.m4a"} | (
            {"truncated.flac"} if "truncated.flac" in errors else set())
        for name, message in errors.items():
            assert "\n" not in message and len(message) < 200, (name, message)
        ok = {os.path.basename(t["path"]): t for t in store.iter_tracks(status="ok")}
        for name in ("good.flac", "blip.wav", "surround.flac", "phone.wav", "Ünïcödé ♪ 音楽.ogg"):
            assert name in ok, name
        assert abs(ok["blip.wav"]["duration"] - 0.1) < 0.02
        assert abs(ok["surround.flac"]["duration"] - 2.0) < 0.05
        assert any(t["path_key"] == raw for t in store.iter_tracks())
        conn = store.conn
        orphan = conn.execute(
            "SELECT COUNT(*) FROM segments JOIN tracks ON tracks.id = segments.track_id"
            " WHERE tracks.status = 'error'").fetchone()[0]
        assert orphan == 0


@pytest.mark.slow
def test_a_full_disk_stops_the_scan_cleanly_keeping_whole_tracks(tmp_path: Path, tiny_model: Path) -> None:
    make_library(tmp_path / "lib")
    db = tmp_path / "t.db"
    store = Store(db)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.raises(StoreError, match="full"):
        scan([str(tmp_path / "lib")], store=store, options=options(tiny_model, batch_size=1))
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for (track_id,) in conn.execute("SELECT id FROM tracks WHERE status = 'ok'").fetchall():
        n = conn.execute("SELECT COUNT(*) FROM track_instruments WHERE track_id = ?", (track_id,)).fetchone()[0]
        assert n == len(CLASSES)  # every stored track is whole
    conn.close()
    with Store(db) as store:  # space again: the next scan finishes the rest
        report = scan([str(tmp_path / "lib")], store=store, options=options(tiny_model))
        assert store.counts() == {"ok": len(FORMATS)} and report.failed == 0
