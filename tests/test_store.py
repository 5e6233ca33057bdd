"""The SQLite store on real files: upserts, odd paths, bad files, a full disk."""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tagger.store import InstrumentSummary, SegmentRow, Store, StoreError, TrackResult
from tagger.store.migrations import MIGRATIONS


def result(path: str, n_segments: int = 2, status: str = "ok") -> TrackResult:
    return TrackResult(
        path=path, size=10, mtime_ns=20, model="m-1", status=status, duration=30.0, format="mp3",
        segments=[SegmentRow("piano", i, i + 1.0, 0.8, "foreground") for i in range(n_segments)],
        instruments=[InstrumentSummary("piano", 0.8, 0.5, "foreground")],
        classes=["piano"], window_s=2.0, hop_s=1.0, presence=np.full((4, 1), 0.8, np.float32),
    )


def test_rewriting_a_track_replaces_its_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.write_results([result("/music/a.mp3", 3)])
    store.write_results([result("/music/a.mp3", 1)])
    track = store.find_track("/music/a.mp3")
    assert store.counts() == {"ok": 1}
    assert len(store.segments(track["id"])) == 1
    scores = store.chunk_scores(track["id"])
    assert scores["presence"].shape == (4, 1) and abs(scores["presence"][0, 0] - 0.8) < 1e-3


def test_non_utf8_path_round_trips_exactly(tmp_path: Path) -> None:
    raw = os.fsdecode(b"/music/caf\xe9.flac")
    store = Store(tmp_path / "t.db")
    store.write_results([result(raw)])
    assert os.fsencode(raw) in store.known_tracks()
    assert store.find_track(raw)["path"] == "/music/caf\\xe9.flac"


def test_reopening_runs_no_migration_twice(tmp_path: Path) -> None:
    Store(tmp_path / "t.db").close()
    store = Store(tmp_path / "t.db")
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store(bogus)
    assert bogus.read_text().startswith("these are my notes")  # untouched
    with pytest.raises(StoreError, match="folder"):
        Store(tmp_path)


def test_full_disk_rolls_back_the_whole_batch(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.write_results([result("/music/first.mp3")])
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the "disk" is now nearly full
    with pytest.raises(StoreError, match="full"):
        store.write_results([result(f"/music/{i}.mp3", 200) for i in range(50)])
    assert store.counts() == {"ok": 1}
    assert store.conn.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 2
    store.close()
    again = sqlite3.connect(tmp_path / "t.db")
    assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
