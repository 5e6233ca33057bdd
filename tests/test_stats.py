"""`tagger stats`: the store's summary, from the library API and the real CLI (text and JSON)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli_run import tagger, widest
from library_store import LIBRARY, MODEL, fill_store, track_result
from tagger.cli.stats import format_hours
from tagger.store import Store
from tagger.store.stats import store_stats


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    store = fill_store(tmp_path / "lib.db")  # 6 analysed tracks (1280 s) and 1 error row
    older = track_result("/music/old/Take.mp3", 120.0, "mp3", {"piano": (0.9, 0.5, "foreground")})
    older.model = "tagger-0.9"
    store.write_results([older])
    run = store.start_run(model=MODEL, paths=["/music"])
    store.finish_run(run, scanned=7, skipped=0, failed=1, audio_seconds=1400.0)
    store.conn.execute("INSERT INTO labels (track_id, start, \"end\", instrument, role, labeled_at)"
                       " VALUES (1, 0, 5, 'piano', 'none', '2026-01-01T00:00:00+00:00')")
    store.close()
    return tmp_path / "lib.db"


def test_store_stats_counts_hours_instruments_and_models(db: Path) -> None:
    with Store(db) as store:
        stats = store_stats(store)
    assert (stats.tracks, stats.ok, stats.errors, stats.labels) == (8, 7, 1, 1)
    seconds = sum(d for d, _f, _p in LIBRARY.values()) + 120.0
    assert stats.hours == pytest.approx(seconds / 3600)
    by_name = {i.instrument: i for i in stats.instruments}
    # piano: So What (0.6 of 200 s, background), Ballad (0.8 of 180 s, lead), Take (0.5 of 120).
    assert (by_name["piano"].tracks, by_name["piano"].lead_tracks) == (3, 2)
    assert by_name["piano"].hours == pytest.approx((120 + 144 + 60) / 3600)
    assert stats.instruments[0].instrument in ("voice", "drums")  # 4 and 3 tracks: most first
    assert by_name["voice"].tracks == 4 and "clarinet" not in by_name  # never present
    assert [(m.model, m.tracks, m.errors) for m in stats.models] == [(MODEL, 7, 1),
                                                                     ("tagger-0.9", 1, 0)]
    assert stats.last_scan is not None and stats.last_scan.startswith("20")


@pytest.mark.parametrize("columns", [80, 120])
def test_cli_text_fits_the_terminal(db: Path, columns: int) -> None:
    result = tagger("stats", "--db", str(db), columns=columns)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert widest(out) <= columns and "…" not in out
    lines = out.splitlines()
    assert lines[1].split() == ["tracks", "8", "(7", "analysed)"]
    assert lines[2].startswith("errors     1 (`tagger query --status error")
    assert "audio      23.3 min analysed" in lines  # 1400 s
    assert f"models     {MODEL}: 7 tracks, 1 error" in lines
    assert "           tagger-0.9: 1 track" in lines
    piano = next(l for l in lines if l.startswith("piano "))
    assert piano.split() == ["piano", "3", "43%", "2", "5.4", "min"]


def test_cli_json(db: Path) -> None:
    result = tagger("stats", "--json", "--db", str(db))
    doc = json.loads(result.stdout)
    assert doc["db"] == str(db) and doc["tracks"] == 8 and doc["errors"] == 1
    assert doc["hours"] == round(1400 / 3600, 4)
    assert {"instrument": "piano", "tracks": 3, "lead_tracks": 2,
            "hours": round(324 / 3600, 4)} in doc["instruments"]
    assert doc["models"][1] == {"model": "tagger-0.9", "tracks": 1, "errors": 0}


def test_empty_store_and_missing_store(tmp_path: Path) -> None:
    Store(tmp_path / "empty.db").close()
    result = tagger("stats", "--db", str(tmp_path / "empty.db"))
    assert result.returncode == 0, result.stderr
    assert "tracks     0 (0 analysed)" in result.stdout and "never finished" in result.stdout
    missing = tagger("stats", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: no database at")


def test_read_only_store_with_the_first_schema(tmp_path: Path) -> None:
    """A store from the first release, opened read-only (not upgraded), is summarised too."""
    from tagger.store.migrations import MIGRATIONS

    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO tracks (path_key, path, duration, model, status, scanned_at)"
                 " VALUES (x'2f61', '/a', 60.0, 'old-1', 'ok', '2020-01-01')")
    conn.execute("INSERT INTO track_instruments VALUES (1, 'organ', 0.9, 0.5, 'foreground')")
    conn.commit()
    conn.close()
    with Store(db, read_only=True) as store:
        stats = store_stats(store)
    assert (stats.tracks, stats.ok, stats.hours) == (1, 1, pytest.approx(60 / 3600))
    assert [(i.instrument, i.tracks, i.lead_tracks) for i in stats.instruments] == [("organ", 1, 1)]
    assert stats.last_scan is None


def test_format_hours() -> None:
    assert [format_hours(h) for h in (0.1375, 3.214, 12.04, 1234.5)] == [
        "8.2 min", "3.21 h", "12.0 h", "1,234 h"]
