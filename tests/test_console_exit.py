"""The console script ends without the interpreter's teardown (issue 14: 0.75 s of every
scan's fixed cost), but still does what an exit must: other threads finish, atexit handlers
run, everything written to stdout and stderr arrives, and the exit code is the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from audiofiles import tone, write_audio
from cli_run import CONSOLE_SCRIPT

from tagger.store import Store


def console(prelude: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script in a fresh interpreter, after ``prelude`` ran there."""
    return subprocess.run([sys.executable, "-c", prelude + "\n" + CONSOLE_SCRIPT, *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_threads_finish_and_atexit_handlers_run_before_the_process_ends(tmp_path: Path) -> None:
    prelude = f"""
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
pool = ThreadPoolExecutor(2)  # left open, as a library might leave one
pool.submit(time.sleep, 0.05)
def late():
    time.sleep(0.3)
    open({str(tmp_path / "late.txt")!r}, "w").write("written")
threading.Thread(target=late).start()
atexit.register(lambda: print("atexit ran", file=sys.stderr))
"""
    run = console(prelude, "models", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "late.txt").read_text() == "written"
    assert run.stderr.splitlines()[-1] == "atexit ran"
    assert "tagger-fast" in run.stdout and run.stdout.endswith("shows one card\n")


def test_large_output_arrives_whole_through_a_pipe(tmp_path: Path) -> None:
    """``tagger models --help`` several times over a pipe: nothing buffered is lost at exit."""
    prelude = "import sys; sys.stdout = open(sys.stdout.fileno(), 'w', buffering=1 << 20)"
    run = console(prelude, "models", cwd=tmp_path)  # a 1 MB buffer: flushed only at exit
    direct = console("", "models", cwd=tmp_path)
    assert run.returncode == direct.returncode == 0
    assert run.stdout == direct.stdout and run.stdout.count("\n") >= 5


def test_exit_codes_are_the_commands(tmp_path: Path, tiny_model: Path) -> None:
    assert console("", "no-such-command", cwd=tmp_path).returncode == 2
    missing = console("", "show", str(tmp_path / "none.mp3"), "--db", str(tmp_path / "s.db"),
                      cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no database")
    # A scan with decode workers and a file that fails: exit 1, the summary printed, every
    # finished track in the database.
    for i in range(4):
        write_audio(tmp_path / f"t{i}.wav", tone(1.5, 8000, freq=220.0 * (i + 1)), 8000)
    (tmp_path / "broken.mp3").write_bytes(b"ID3" + bytes(range(256)) * 8)
    db = tmp_path / "scan.db"
    run = console("", "scan", str(tmp_path), "--db", str(db), "--model", str(tiny_model),
                  "--workers", "2", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("4 scanned, 0 unchanged, 1 failed")
    with Store(db) as store:
        assert len(list(store.iter_tracks(status="ok"))) == 4


def test_a_profiler_still_gets_its_last_word(tmp_path: Path) -> None:
    """Under cProfile (or pdb, coverage) the exit is the interpreter's own: they write their
    results after the program returns."""
    stats = tmp_path / "models.prof"
    run = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "tagger",
                          "models"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "tagger-fast" in run.stdout and stats.stat().st_size > 1000


def test_an_unwritable_stderr_still_ends_with_a_failure_code(tmp_path: Path) -> None:
    """A usage error whose one line cannot be written: exit 1 (as before the fast exit), not
    0, and no traceback or hang."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, "no-such-command"],
                             stdout=subprocess.PIPE, stderr=full, text=True, timeout=120,
                             cwd=tmp_path)
    assert run.returncode == 1 and run.stdout == ""
