"""`query --m3u` (stdout, missing folders, #EXTINF from the files' tags, counts in words) and a
re-scan's failed tracks (the hint, `--retry-errors`), with the real CLI on real audio."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from audiofiles import tone, write_audio
from cli_run import tagger


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> dict[str, Path]:
    """Three real files: tagged flac and mp3, an untagged wav; scanned into a real store."""
    root = tmp_path_factory.mktemp("playlist")
    lib = root / "lib"
    lib.mkdir()
    write_audio(lib / "a.flac", tone(3.0, 16000), 16000, artist="Ada [Trio]", title="Blue Room")
    write_audio(lib / "b.mp3", tone(2.0, 16000, freq=330.0), 16000, title="Only A Title")
    write_audio(lib / "c.wav", tone(2.0, 16000, freq=550.0), 16000)
    db = root / "t.db"
    result = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "-q")
    assert result.returncode == 0, result.stderr
    return {"root": root, "lib": lib, "db": db}


def test_m3u_to_stdout_with_artist_and_title(library: dict) -> None:
    lib, db = library["lib"], str(library["db"])
    result = tagger("query", "--m3u", "-", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "#EXTM3U",
        "#EXTINF:3,Ada [Trio] - Blue Room", str(lib / "a.flac"),
        "#EXTINF:2,Only A Title", str(lib / "b.mp3"),
        "#EXTINF:2,c", str(lib / "c.wav"),  # no tags: the file name
    ]
    assert result.stderr == "wrote 3 tracks to standard output\n"
    assert not Path("-").exists()


def test_m3u_file_counts_in_words_and_refuses_a_missing_folder(library: dict) -> None:
    root, db = library["root"], str(library["db"])
    one = tagger("query", "--path", "*.wav", "--m3u", str(root / "one.m3u"), "--db", db)
    assert one.returncode == 0, one.stderr
    assert one.stderr == f"wrote 1 track to {root / 'one.m3u'}\n"
    assert (root / "one.m3u").read_text().splitlines()[1] == "#EXTINF:2,c"
    missing = root / "no such folder" / "list.m3u"
    result = tagger("query", "--m3u", str(missing), "--db", db)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not exist (create it first)" in result.stderr
    assert not missing.parent.exists()
    both = tagger("query", "--m3u", "-", "--json", "--db", db)
    assert both.returncode == 2 and "standard output" in both.stderr and both.stdout == ""


def _same_size_junk(path: Path) -> bytes:
    good = path.read_bytes()
    path.write_bytes(b"\0" * len(good))
    return good


@pytest.mark.slow
def test_unchanged_failures_are_counted_and_retried(tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_audio(lib / "ok.wav", tone(2.0, 16000), 16000)
    fixed_later = write_audio(lib / "later.wav", tone(2.0, 16000, freq=330.0), 16000)
    good = _same_size_junk(fixed_later)  # corrupt for the first scan
    stamp = fixed_later.stat().st_mtime_ns
    db = tmp_path / "t.db"
    scan = ("scan", str(lib), "--db", str(db), "--model", str(tiny_model))
    assert tagger(*scan).returncode == 1

    again = tagger(*scan)
    assert again.returncode == 1
    assert "0 scanned, 2 unchanged, 0 failed, 1 unchanged with errors" in again.stdout
    hint = [l for l in again.stderr.splitlines() if "--retry-errors" in l]
    assert hint == [f"1 unchanged track failed when last scanned (the store holds 1 error row):"
                    f" `tagger scan --retry-errors {lib} --db {db}` tries them again,"
                    f" `tagger query --status error --db {db}` lists them"]

    # The file is repaired in place: same size, same modification time (as a restore from a
    # backup that keeps times may do). A plain re-scan keeps the stored failure...
    fixed_later.write_bytes(good)
    os.utime(fixed_later, ns=(stamp, stamp))
    assert "1 unchanged with errors" in tagger(*scan).stdout
    # ...and --retry-errors scans it again, and only it.
    retried = tagger(*scan, "--retry-errors")
    assert retried.returncode == 0, retried.stderr
    assert "1 scanned, 1 unchanged, 0 failed" in retried.stdout
    status = sqlite3.connect(db).execute(
        "SELECT status FROM tracks WHERE path LIKE '%later.wav'").fetchone()[0]
    assert status == "ok"
    # (Transient failures such as permission denied are retried without the option:
    # test_bad_input_store.py.)
