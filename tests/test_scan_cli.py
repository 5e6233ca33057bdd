"""The `tagger scan` command as a user runs it: exit codes, messages, kill -9 and resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import soundfile as sf

from audiofiles import tone, write_audio


def tagger(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagger", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.slow
def test_exit_code_1_and_a_summary_when_a_file_fails(tmp_path: Path, tiny_model: Path) -> None:
    write_audio(tmp_path / "good.wav", tone(2.0), 44100)
    (tmp_path / "bad.mp3").write_text("not audio")
    result = tagger("scan", str(tmp_path), "--db", str(tmp_path / "t.db"), "--model", str(tiny_model), "-q")
    assert result.returncode == 1, result.stderr
    assert "bad.mp3" in result.stderr and "Traceback" not in result.stderr
    again = tagger("scan", str(tmp_path), "--db", str(tmp_path / "t.db"), "--model", str(tiny_model))
    # Both unchanged; bad.mp3 still fails (a permanent error, not decoded again): reported.
    assert again.returncode == 1, again.stderr
    assert "0 scanned, 2 unchanged, 0 failed, 1 unchanged with errors" in again.stdout
    assert "bad.mp3" in again.stderr


@pytest.mark.slow
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, tiny_model: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n" * 50)
    before = notes.read_bytes()
    result = tagger("scan", str(tmp_path), "--db", str(notes), "--model", str(tiny_model))
    assert result.returncode == 2 and "not a database" in result.stderr
    assert notes.read_bytes() == before
    result = tagger("scan", str(tmp_path), "--db", str(tmp_path / "x.db"), "--model", "no-such-model")
    assert result.returncode == 2 and "no model 'no-such-model'" in result.stderr
    missing = tagger("scan", str(tmp_path), str(tmp_path / "nope"), "--db", str(tmp_path / "y.db"),
                     "--model", str(tiny_model))
    # A path that does not exist is a usage error (a typo), caught before any work is done.
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.strip() == f"error: no such file or folder: {tmp_path / 'nope'}"
    assert not (tmp_path / "y.db").exists()
    for result in (missing,):
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_kill_9_mid_scan_then_resume_stores_every_track_once(tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    n_tracks = 80
    signal_ = tone(6.0, 16000)
    for i in range(n_tracks):
        sf.write(lib / f"t{i:03d}.wav", signal_ * (0.5 + i / (2 * n_tracks)), 16000)
    db = tmp_path / "t.db"
    cmd = [sys.executable, "-m", "tagger", "scan", str(lib), "--db", str(db), "--model",
           str(tiny_model), "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                conn = sqlite3.connect(db, timeout=1)
                stored = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                continue
            if stored:
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < stored < n_tracks, f"kill came too late or too early ({stored} stored)"

    resumed = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    paths = [p for (p,) in conn.execute("SELECT path FROM tracks")]
    assert len(paths) == len(set(paths)) == n_tracks
    per_track = dict(conn.execute("SELECT track_id, COUNT(*) FROM track_instruments GROUP BY track_id"))
    assert len(per_track) == n_tracks and set(per_track.values()) == {14}
    orphans = conn.execute("SELECT COUNT(*) FROM segments WHERE track_id NOT IN (SELECT id FROM tracks)")
    assert orphans.fetchone()[0] == 0


@pytest.mark.slow
def test_write_tags_after_scan_and_the_next_scan_skips_the_file(tmp_path: Path, tiny_model: Path) -> None:
    import mutagen

    write_audio(tmp_path / "song.flac", tone(3.0), 44100, title="Song", artist="Me")
    db = str(tmp_path / "t.db")
    first = tagger("scan", str(tmp_path), "--db", db, "--model", str(tiny_model), "--write-tags")
    assert first.returncode == 0, first.stderr
    tags = mutagen.File(tmp_path / "song.flac")
    assert tags["INSTRUMENTS_MODEL"] == ["tiny-test-0"]
    assert tags["title"] == ["Song"]
    second = tagger("scan", str(tmp_path), "--db", db, "--model", str(tiny_model))
    assert "0 scanned, 1 unchanged" in second.stdout
