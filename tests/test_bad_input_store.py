"""Issue 11 on the store side: nothing a user owns is lost, nothing hangs.

Damaged and read-only stores, retried and reported error rows, vanished files, output into a
missing folder, control characters in file names, runs left by a kill. Real files, a real
SQLite file and the real CLI (typer's runner, or a subprocess where a process must die or run
as another user).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audiofiles import tone, write_audio
from library_store import LIBRARY, fill_store
from tagger.cli.app import app
from tagger.store import Store

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
PAGE = 4096


def tagger(*args: str, user: str | None = None, timeout: float = 300
           ) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (as ``user`` through setpriv when given)."""
    cmd = [sys.executable, "-m", "tagger", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *cmd]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": "/tmp"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.slow
def test_damaged_store_is_one_line_with_integrity_check_and_left_untouched(
        tmp_path: Path, tiny_model: Path) -> None:
    db = tmp_path / "lib.db"
    fill_store(db).close()
    size = db.stat().st_size
    assert size > 3 * PAGE
    with open(db, "r+b") as fh:  # garbage over every page after the first (header stays valid)
        fh.seek(PAGE)
        fh.write(bytes((i * 37 + 11) % 251 for i in range(size - PAGE)))
    before = db.read_bytes()
    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "a.wav", tone(1.0, 8000), 8000)
    commands = [
        ["scan", str(music), "--model", str(tiny_model), "-q"],
        ["query", "--has", "sax"],
        ["export"],
        ["show", "So What.flac"],
        ["tag", "--all", "--dry-run"],
        ["labels", "export"],
    ]
    for args in commands:
        result = tagger(*args, "--db", str(db))
        line = one_error_line(result.stderr)
        assert result.returncode == 2, (args, result.stderr)
        assert "is damaged" in line and "integrity_check" in line, line
        assert ".recover" in line and "backup" in line, line
        assert db.read_bytes() == before, args
        assert not any(p.name.startswith("lib.db-") for p in tmp_path.iterdir())


@pytest.mark.slow
def test_unchanged_error_rows_are_reported_and_transient_ones_retried(
        tmp_path: Path, tiny_model: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "good.wav", tone(2.0, 8000), 8000)
    (music / "corrupt.mp3").write_text("not audio\n" * 20)
    locked = write_audio(music / "locked.wav", tone(2.0, 8000), 8000)
    db = tmp_path / "t.db"
    args = ["scan", str(music), "--db", str(db), "--model", str(tiny_model), "--workers", "0"]
    first = tagger(*args)
    assert first.returncode == 1 and "1 failed" in first.stdout, first.stdout + first.stderr
    # A transient failure, as the decoder reports a file it may not read (tests run as root,
    # which reads any file, so the row is the one a user's unreadable file leaves).
    with Store(db) as store:
        store.conn.execute("UPDATE tracks SET status='error', error='permission denied'"
                           " WHERE path LIKE '%locked.wav'")

    again = tagger(*args)
    out = again.stdout + again.stderr
    assert again.returncode == 1, out  # the corrupt file still fails, as when it first did
    assert "1 scanned" in out and "1 unchanged with errors" in out, out
    assert "corrupt.mp3" in out, out  # which one: not just a count
    with Store(db) as store:
        assert store.find_track(str(locked))["status"] == "ok"  # retried, and now fine
        assert store.find_track(str(music / "corrupt.mp3"))["status"] == "error"


@pytest.mark.slow
def test_prune_removes_rows_of_vanished_files_and_dry_run_only_lists_them(
        tmp_path: Path, tiny_model: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    for name in ("keep.wav", "gone.wav", "labelled.wav"):
        write_audio(music / name, tone(1.0, 8000), 8000)
    db = tmp_path / "t.db"
    scanned = tagger("scan", str(music), "--db", str(db), "--model", str(tiny_model), "-q",
                     "--workers", "0")
    assert scanned.returncode == 0, scanned.stderr
    with Store(db) as store:
        tid = store.find_track(str(music / "labelled.wav"))["id"]
        store.conn.execute("INSERT INTO labels (track_id, start, \"end\", instrument, role,"
                           " labeled_at) VALUES (?, 0, 1, 'piano', 'none', 'now')", (tid,))
    (music / "gone.wav").unlink()
    (music / "labelled.wav").unlink()

    dry = runner.invoke(app, ["prune", "--db", str(db), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "gone.wav" in dry.output and "keep.wav" not in dry.output
    with Store(db) as store:
        assert store.counts() == {"ok": 3}
    done = runner.invoke(app, ["prune", "--db", str(db)])
    assert done.exit_code == 0, done.output
    assert "removed 1" in done.output and "labelled.wav" in done.output  # kept, and said why
    with Store(db) as store:
        assert sorted(Path(t["path"]).name for t in store.iter_tracks()) == [
            "keep.wav", "labelled.wav"]
        assert store.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1


@pytest.fixture()
def nobody_dir() -> Path:
    """A folder another user can reach (pytest's tmp folders are private to root)."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run the CLI as an unprivileged user")
    folder = Path(tempfile.mkdtemp(prefix="tagger-ro-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


@pytest.mark.slow
def test_reads_work_on_a_store_in_a_read_only_folder(nobody_dir: Path) -> None:
    db = nobody_dir / "lib.db"
    fill_store(db).close()
    with sqlite3.connect(db) as conn:  # a store from before the newest migration
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    db.chmod(0o644)
    before = db.read_bytes()
    nobody_dir.chmod(0o555)  # neither the folder nor the file is writable by nobody
    query = tagger("query", "--has", "sax", "--paths", "--db", str(db), user="nobody")
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines() == ["/music/jazz/So What.flac", "/music/jazz/Ballad.mp3"]
    assert "older schema" in one_error_line(query.stderr)  # said once, in one line
    export = tagger("export", "--db", str(db), "-q", user="nobody")
    assert export.returncode == 0 and export.stderr == "", export.stderr
    assert len(export.stdout.splitlines()) == len(LIBRARY) + 1
    show = tagger("show", "So What.flac", "--db", str(db), "-q", user="nobody")
    assert show.returncode == 0 and "saxophone" in show.stdout, show.stderr
    assert db.read_bytes() == before and sorted(os.listdir(nobody_dir)) == ["lib.db"]


def test_unknown_query_format_is_a_usage_error_listing_the_valid_ones(tmp_path: Path) -> None:
    fill_store(tmp_path / "lib.db").close()
    result = runner.invoke(app, ["query", "--format", "xyz", "--db", str(tmp_path / "lib.db")])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert "'xyz'" in line and "mp3" in line and "flac" in line and "no tracks match" not in line
    ok = runner.invoke(app, ["query", "--format", ".MP3", "--db", str(tmp_path / "lib.db")])
    assert ok.exit_code == 0 and "Ballad" in ok.output


def test_output_into_a_missing_folder_is_refused_not_created(tmp_path: Path) -> None:
    db = str(tmp_path / "lib.db")
    fill_store(tmp_path / "lib.db").close()
    missing = tmp_path / "no" / "such"
    commands = [
        ["show", "So What.flac", "--plot", str(missing / "x.png")],
        ["export", "-o", str(missing / "x.jsonl")],
        ["labels", "export", "-o", str(missing / "x.csv")],
        ["query", "--has", "sax", "--m3u", str(missing / "x.m3u")],
    ]
    for args in commands:
        result = runner.invoke(app, [*args, "--db", db])
        assert result.exit_code == 2, (args, result.output)
        assert "does not exist" in one_error_line(result.output), args
        assert not (tmp_path / "no").exists(), args


def test_control_characters_in_names_are_escaped_and_paths_null_keeps_bytes(
        tmp_path: Path) -> None:
    odd = "/music/odd/Evil\x1b[2J\nName.flac"
    db = tmp_path / "lib.db"
    fill_store(db, {odd: LIBRARY["/music/jazz/So What.flac"]}).close()
    args = ["--has", "sax", "--db", str(db)]
    table = runner.invoke(app, ["query", *args])
    assert table.exit_code == 0 and "\x1b" not in table.output, table.output
    assert "Evil\\x1b[2J\\nName" in table.output.replace("\n", "").replace("│", "").replace(" ", "")
    paths = runner.invoke(app, ["query", "--paths", *args])
    assert paths.stdout_bytes == b"/music/odd/Evil\\x1b[2J\\nName.flac\n"
    null = runner.invoke(app, ["query", "--paths", "-0", *args])
    assert null.stdout_bytes == odd.encode() + b"\0"
    show = runner.invoke(app, ["show", "Name.flac", "--db", str(db)])
    assert show.exit_code == 0 and "\x1b" not in show.output, show.output
    assert show.output.splitlines()[0].startswith("/music/odd/Evil\\x1b[2J\\nName.flac")
    m3u = runner.invoke(app, ["query", "--m3u", str(tmp_path / "p.m3u"), *args])
    assert m3u.exit_code == 0 and "left out 1" in m3u.output, m3u.output
    assert odd.encode() not in (tmp_path / "p.m3u").read_bytes()


@pytest.mark.slow
def test_a_run_killed_mid_scan_is_marked_interrupted_by_the_next_scan(
        tmp_path: Path, tiny_model: Path) -> None:
    db = tmp_path / "t.db"
    killed = subprocess.run(
        [sys.executable, "-c", "import os, signal, sys; from tagger.store import Store;"
         " Store(sys.argv[1]).start_run(model='m', paths=[]);"
         " os.kill(os.getpid(), signal.SIGKILL)", str(db)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert killed.returncode == -9
    with Store(db) as store:
        assert store.conn.execute("SELECT status, finished_at FROM runs").fetchall() == [
            ("running", None)]
    write_audio(tmp_path / "a.wav", tone(1.0, 8000), 8000)
    scanned = tagger("scan", str(tmp_path / "a.wav"), "--db", str(db), "--model",
                     str(tiny_model), "-q", "--workers", "0")
    assert scanned.returncode == 0, scanned.stderr
    with Store(db) as store:
        rows = store.conn.execute("SELECT status, finished_at IS NULL FROM runs ORDER BY id")
        assert rows.fetchall() == [("interrupted", 1), ("finished", 0)]
