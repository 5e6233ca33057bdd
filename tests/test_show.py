"""`tagger show`: the terminal timeline, --json and errors (--plot: tests/test_plot.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from library_store import track_result
from tagger.cli.app import app
from tagger.show import (BACKGROUND_CHAR, FOREGROUND_CHAR, TrackNotFoundError, resolve_track,
                         time_ticks, timeline_lines)
from tagger.store import Store

runner = CliRunner()


def lines_of(store: Store, name: str, width: int = 100) -> list[str]:
    row = resolve_track(store, name)
    return [t.plain for t in timeline_lines(row, store.instruments(row["id"]),
                                            store.segments(row["id"]), width=width)]


def test_timeline_rows_bars_and_axis(store: Store) -> None:
    lines = lines_of(store, "jazz/So What.flac", width=100)
    assert lines[0].startswith("/music/jazz/So What.flac  3:20  flac  model tagger-1.0")
    rows = [l for l in lines if "│" in l]
    assert [r.split()[0] for r in rows] == ["saxophone", "drums", "trumpet", "bass", "piano"]
    sax = rows[0]
    assert "0.95" in sax and "50%" in sax and sax.endswith("lead")
    bar = sax[sax.index("│") + 1:sax.rindex("│")]
    # Sax plays the first and last quarter (foreground): full blocks there, dots in between.
    quarter = len(bar) // 4
    assert set(bar[:quarter - 1]) == {FOREGROUND_CHAR} and set(bar[-quarter + 1:]) == {FOREGROUND_CHAR}
    assert set(bar[quarter + 1:-quarter - 1]) == {"·"}
    piano = rows[-1]
    assert BACKGROUND_CHAR in piano and FOREGROUND_CHAR not in piano
    assert all(len(r) <= 100 for r in rows)
    axis, labels = lines[1 + len(rows) + 1], lines[1 + len(rows) + 2]
    assert axis.strip().startswith("└┬") and axis.endswith("┘")
    assert labels.split()[:3] == ["0:00", "0:30", "1:00"]
    absent = lines[next(i for i, l in enumerate(lines) if l.startswith("not present: ")):]
    assert "clarinet 0.10" in " ".join(absent) and all(len(l) <= 100 for l in lines)


def test_timeline_error_and_empty(store: Store, tmp_path: Path) -> None:
    assert lines_of(store, "Corrupt.mp3") == [
        "/music/broken/Corrupt.mp3  ?  mp3  model tagger-1.0", "error: decode failed: invalid data"]
    store.write_results([track_result("/music/silence.wav", 30.0, "wav", {})])
    assert "no instrument present" in lines_of(store, "silence.wav")


def test_time_ticks() -> None:
    assert time_ticks(200.0, 80) == [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]
    assert time_ticks(10.0, 80) == [float(t) for t in range(11)]
    assert time_ticks(0.0, 80) == [0.0]


def test_resolve_track_errors(store: Store) -> None:
    with pytest.raises(TrackNotFoundError, match="several tracks"):
        resolve_track(store, ".flac")
    with pytest.raises(TrackNotFoundError, match="no track 'nope.mp3'"):
        resolve_track(store, "nope.mp3")
    assert resolve_track(store, "/music/rock/Riff.mp3")["format"] == "mp3"


def test_cli_show_text_and_json(store: Store) -> None:
    result = runner.invoke(app, ["show", "--db", str(store.path), "Riff.mp3"])
    assert result.exit_code == 0, result.output
    assert "electric_guitar" in result.stdout and FOREGROUND_CHAR in result.stdout
    result = runner.invoke(app, ["show", "--db", str(store.path), "Riff.mp3", "--json"])
    record = json.loads(result.stdout)
    assert record["path"] == "/music/rock/Riff.mp3" and len(record["instruments"]) == 14
    assert record["instruments"]["voice"]["role"] == "foreground"


def test_cli_show_unknown_track_is_usage_error(store: Store) -> None:
    result = runner.invoke(app, ["show", "--db", str(store.path), "Nothing.mp3"])
    assert result.exit_code == 2
    assert "no track 'Nothing.mp3'" in result.output and "Traceback" not in result.output
