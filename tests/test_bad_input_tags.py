"""Issue 11, the tag side: nothing a user owns is lost, nothing hangs.

Real files (ffmpeg), real tag writes read back with plain mutagen, a real SQLite store, the
real CLI (in-process through Typer, or as a subprocess where a kill or a disk limit is the
point), and the real labeling server over a socket.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mutagen
import pytest
from tags_support import joined, raw_values, store_for
from typer.testing import CliRunner

from audiofiles import tone, write_audio
from tagger.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
NO_TAG_KIND = {".mp3": "mp3v24", ".wav": "wav", ".aiff": "aiff"}  # raw_values variant per ext


def tag_cli(db: Path, *args: str):
    return CliRunner().invoke(app, ["tag", "--db", str(db), *args])


def untagged(folder: Path, ext: str, name: str = "plain") -> Path:
    """A real file of ``ext`` holding no ID3 tag at all (ffmpeg's is deleted by mutagen)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_audio(folder / f"{name}{ext}", tone(1.0, 22050), 22050)
    if mutagen.File(path).tags is not None:
        mutagen.File(path).delete()  # MP3: ID3v2 and v1; WAV/AIFF: the "id3 " chunk
    assert mutagen.File(path).tags is None, path
    return path


@pytest.mark.parametrize("ext", sorted(NO_TAG_KIND))
def test_remove_gives_back_a_file_that_had_no_tag_byte_for_byte(tmp_path: Path, ext: str) -> None:
    path = untagged(tmp_path / "music", ext)
    original = path.read_bytes()
    db = tmp_path / "t.db"
    store_for(db, [path]).close()
    done = tag_cli(db, "--all")
    assert done.exit_code == 0, done.output
    assert raw_values(path, NO_TAG_KIND[ext], "INSTRUMENTS") == joined(["bass", "drums", "voice"])
    undone = tag_cli(db, "--all", "--remove")
    assert undone.exit_code == 0, undone.output
    assert mutagen.File(path).tags is None  # no empty ID3 tag left behind...
    assert path.read_bytes() == original  # ...and no padding: the very bytes it had


def test_remove_all_skips_error_rows_like_tag_all(tmp_path: Path) -> None:
    good = untagged(tmp_path / "music", ".mp3", "good")
    bad = []
    for i in range(3):
        junk = tmp_path / "music" / f"junk{i}.mp3"
        junk.write_text("not audio at all\n")
        bad.append(junk)
    db = tmp_path / "t.db"
    store_for(db, [good]).close()
    store_for(db, bad, status="error").close()
    junk_bytes = [p.read_bytes() for p in bad]
    for args in (["--all"], ["--all", "--remove"]):
        done = tag_cli(db, *args)
        assert done.exit_code == 0, (args, done.output)
        assert "3 skipped (scan failed)" in done.output, (args, done.output)
        assert "failed" not in done.output.replace("(scan failed)", ""), (args, done.output)
    assert [p.read_bytes() for p in bad] == junk_bytes
    tags = mutagen.File(good).tags  # the good one was tagged, then restored
    assert tags is None or "TXXX:INSTRUMENTS" not in tags


def _stale(db: Path, files: list[Path]) -> int:
    """How many files the store's tracks rows no longer describe (size or mtime differ)."""
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT path, size || ':' || mtime_ns FROM tracks"))
    return sum(rows[str(p)] != f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)


def _kill_mid_replace(db: Path, files: list[Path]) -> bool:
    """Run ``tagger tag --all`` and SIGKILL it the moment it has replaced its first file, so
    the kill lands between a batch's renames and the store update; True if it did."""
    first = files[0].stat().st_ino
    cmd = [sys.executable, "-m", "tagger", "tag", "--all", "-q", "--db", str(db)]
    child = subprocess.Popen(cmd,
                             env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if files[0].stat().st_ino != first:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return child.returncode == -signal.SIGKILL and _stale(db, files) > 0


@pytest.mark.slow
def test_a_tag_run_killed_mid_write_resumes_and_refuses_nothing(tmp_path: Path) -> None:
    one = write_audio(tmp_path / "one.mp3", tone(1.0, 22050), 22050, title="t")
    for attempt in range(8):  # the kill must land inside the window; bounded retries
        music = tmp_path / f"music{attempt}"
        music.mkdir()
        files = [Path(shutil.copy2(one, music / f"t{i:03d}.mp3")) for i in range(80)]
        db = tmp_path / f"t{attempt}.db"
        store_for(db, files).close()
        if _kill_mid_replace(db, files):
            break
    else:
        pytest.fail("no kill landed between a file's replace and the store update in 8 tries")
    for args, want in ((["--remove"], []), ([], joined(["bass", "drums", "voice"]))):
        done = tag_cli(db, "--all", *args)
        assert "changed since it was scanned" not in done.output, (args, done.output)
        assert done.exit_code == 0, (args, done.output)
        assert all(raw_values(p, "mp3v24", "INSTRUMENTS") == want for p in files), args
    assert _stale(db, files) == 0  # and the store describes every file as it now is


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs) to fill up; skipped where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True
    ).returncode == 0
    if not mounted:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mnt
    finally:
        gc.collect()  # a store that failed to open may hold a file there until collected
        subprocess.run(["umount", "--lazy", str(mnt)], check=True)


@pytest.mark.slow
def test_a_full_disk_during_tag_says_no_space_and_leaves_files_as_they_were(
    tmp_path: Path, small_disk: Path
) -> None:
    one = write_audio(tmp_path / "one.mp3", tone(1.0, 22050), 22050, title="t")
    original = one.read_bytes()
    seen_full = 0
    for room in range(0, 160_000, 8192):  # from no room at all to room for every write
        for leftover in small_disk.iterdir():
            leftover.unlink()
        files = [Path(shutil.copy2(one, small_disk / f"t{i}.mp3")) for i in range(5)]
        db = small_disk / "t.db"
        store_for(db, files).close()
        st = os.statvfs(small_disk)
        (small_disk / "filler").write_bytes(b"\0" * max(st.f_bavail * st.f_frsize - room, 0))
        done = tag_cli(db, "--all")
        assert done.exception is None or isinstance(done.exception, SystemExit), done.output
        assert "rollback" not in done.output and "Traceback" not in done.output, done.output
        errors = [line for line in done.output.splitlines() if line.startswith("error")]
        if done.exit_code == 2:  # the store itself cannot be opened: one line, nothing touched
            assert len(errors) == 1, done.output
        else:
            assert done.exit_code == (1 if errors else 0), done.output
            for line in errors:
                assert line.endswith(": No space left on device; file left as it was"), line
            seen_full += bool(errors)
        for path in files:
            assert path.read_bytes() == original or raw_values(
                path, "mp3v24", "INSTRUMENTS") == joined(["bass", "drums", "voice"]), (room, path)
    print(f"{seen_full} fill levels ran into the full disk")
    assert seen_full >= 3  # the sweep did run into the full disk at several points


def test_label_server_logs_one_line_for_a_post_aborted_mid_body(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from label_support import make_store, running_server

    db, _ = make_store(tmp_path, n_tracks=1)
    caplog.set_level(logging.INFO, logger="tagger.label.server")
    with running_server(db) as server:
        assert server.request_queue_size > 5
        head = (f"POST /api/skip HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Content-Type: application/json\r\nX-CSRF-Token: {server.app.token}\r\n"
                "Content-Length: 4000\r\n\r\n").encode()
        for _ in range(5):  # each client sends a tenth of its body, then hangs up
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(head + b'{"clip": "' + b"x" * 400)
            time.sleep(0.2)  # let the server read, answer into the closed socket, and log
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"GET /api/next HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                         "Connection: close\r\n\r\n".encode())
            reply = b""  # read to the end: closing with unread bytes would reset the
            while data := sock.recv(65536):  # server's write and log a 6th "went away"
                reply += data
            assert reply.startswith(b"HTTP/1.0 200")  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    aborted = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(aborted) == 5, [r.getMessage() for r in caplog.records]
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in aborted)
