"""Scans of a 3-hour track and of files and folders the user may not read."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from audiofiles import tone, write_audio
from tagger import ScanOptions, scan
from tagger.store import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_a_three_hour_track_is_scanned_whole(tmp_path: Path, tiny_model: Path) -> None:
    path = tmp_path / "concert.flac"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=220:duration=10800:sample_rate=8000", "-ac", "1", str(path)],
                   check=True)
    with Store(tmp_path / "t.db") as store:
        report = scan([str(path)], store=store,
                      options=ScanOptions(model=str(tiny_model), device="cpu", workers=1))
        assert report.failed == 0, report.failures
        track = store.find_track(path)
        assert abs(track["duration"] - 10800) < 1
        scores = store.chunk_scores(track["id"])
        assert scores["presence"].shape[0] == 10800 - 1  # 2-s windows, 1-s hop


def run_without_root_privileges(args: list[str]) -> subprocess.CompletedProcess:
    """Run a command with root's permission overrides dropped (root ignores chmod otherwise)."""
    if os.geteuid() != 0:
        return subprocess.run(args, capture_output=True, text=True, timeout=300)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing")
    caps = "-dac_override,-dac_read_search"
    return subprocess.run([setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_unreadable_files_and_folders_are_reported_and_the_scan_goes_on(
    tmp_path: Path, tiny_model: Path
) -> None:
    lib = tmp_path / "lib"
    (lib / "locked").mkdir(parents=True)
    write_audio(lib / "fine.wav", tone(2.0), 44100)
    write_audio(lib / "secret.wav", tone(2.0), 44100)
    write_audio(lib / "locked" / "inside.wav", tone(2.0), 44100)
    (lib / "secret.wav").chmod(0)
    (lib / "locked").chmod(0)
    db = tmp_path / "t.db"
    try:
        result = run_without_root_privileges(
            [sys.executable, "-m", "tagger", "scan", str(lib), "--db", str(db), "--model",
             str(tiny_model), "--workers", "1"])
    finally:
        (lib / "locked").chmod(0o755)
        (lib / "secret.wav").chmod(0o644)
    if "cannot drop" in result.stderr or "setpriv:" in result.stderr:
        pytest.skip(f"cannot drop privileges here: {result.stderr[-200:]}")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "locked: permission denied" in result.stderr
    assert "secret.wav: permission denied" in result.stderr
    conn = sqlite3.connect(db)
    status = {Path(p).name: (s, e) for p, s, e in conn.execute("SELECT path, status, error FROM tracks")}
    assert status["fine.wav"] == ("ok", None)
    assert status["secret.wav"] == ("error", "permission denied")
