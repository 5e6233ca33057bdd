"""Scans of inputs that used to lose work or hang (issue 11): every test runs real files through a
real store, mostly through the real `tagger scan` process."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import numpy as np
import soundfile as sf

from audiofiles import tone, write_audio
from tagger.audio.decode import decode
from tagger.store import InstrumentSummary, Store, TrackResult
from tagger.taxonomy import CLASSES


def tagger(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagger", *args], capture_output=True, text=True,
                          timeout=timeout)


def stored(db: Path) -> dict[str, tuple]:
    """File name -> (status, error, note, instrument rows, has chunk scores)."""
    conn = sqlite3.connect(db)
    out = {}
    for tid, path, status, error, note in conn.execute(
            "SELECT id, path, status, error, note FROM tracks"):
        n = conn.execute("SELECT COUNT(*) FROM track_instruments WHERE track_id=?", (tid,)).fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM chunk_scores WHERE track_id=?", (tid,)).fetchone()[0]
        out[os.path.basename(path)] = (status, error, note, n, bool(chunks))
    conn.close()
    return out


def float_wav(path: Path, samples: np.ndarray, sr: int = 8000) -> Path:
    sf.write(path, samples, sr, subtype="FLOAT")
    return path


@pytest.mark.slow
def test_non_finite_samples_are_repaired_or_an_error_row_and_never_cost_another_track(
        tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(3):
        write_audio(lib / f"good{i}.wav", tone(2.0, 8000, freq=300 + 100 * i), 8000)
    t = tone(2.0, 8000)[:, 0]
    few = t.copy()
    few[1000:1010] = np.nan
    inf = t.copy()
    inf[50], inf[60] = np.inf, -np.inf
    float_wav(lib / "few_nan.wav", few)
    float_wav(lib / "all_nan.wav", np.full_like(t, np.nan))
    float_wav(lib / "inf.wav", inf)
    float_wav(lib / "huge.wav", t * 1e20)
    db = tmp_path / "t.db"
    result = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "--workers", "1")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rows = stored(db)
    assert len(rows) == 7
    for name in ("good0.wav", "good1.wav", "good2.wav"):
        assert rows[name] == ("ok", None, None, len(CLASSES), True)
    for name, said in (("few_nan.wav", "10 NaN"), ("inf.wav", "2 NaN"), ("huge.wav", "clipped")):
        status, error, note, n, chunks = rows[name]
        assert (status, error, n, chunks) == ("ok", None, len(CLASSES), True), rows[name]
        assert said in note and f"note {lib / name}" in " ".join(result.stderr.split()), note
    status, error, *_ = rows["all_nan.wav"]
    assert status == "error" and "every sample is NaN or infinite" in error

    # A row the database refuses (NaN score: NOT NULL) costs only its own track, not the batch.
    def result_for(name: str, score: float) -> TrackResult:
        return TrackResult(path=str(tmp_path / name), size=1, mtime_ns=1, model="m", duration=1.0,
                           instruments=[InstrumentSummary("piano", score, 0.5, None)])
    with Store(tmp_path / "s.db") as store:
        refused = store.write_results([result_for("a.wav", 0.9), result_for("bad.wav", float("nan")),
                                       result_for("c.wav", 0.1)])
    assert [(os.path.basename(r.path), reason) for r, reason in refused] == [
        ("bad.wav", "could not store its result (NOT NULL constraint failed: track_instruments.score)")]
    rows = stored(tmp_path / "s.db")
    assert rows["a.wav"][:4] == rows["c.wav"][:4] == ("ok", None, None, 1)
    assert rows["bad.wav"][:2] == ("error", refused[0][1]) and rows["bad.wav"][3] == 0


def _error_paths(lines: list[str]) -> list[str]:
    return [line.split(" ", 1)[1].rsplit(": ", 1)[0] for line in lines if line.startswith("error ")]


@pytest.mark.slow
def test_ctrl_c_mid_scan_keeps_every_track_reported_finished_and_none_in_part(
        tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    signal_ = tone(15.0, 16000)
    # a good track, then a bad one whose error line reports it finished; enough of them that a
    # scan on a fast machine is still running when the test has read three error lines
    for i in range(120):
        sf.write(lib / f"t{i:03d}.wav", signal_ * (0.3 + i / 300), 16000)
        (lib / f"t{i:03d}x.mp3").write_text("not audio")
    db = tmp_path / "t.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger", "scan", str(lib), "--db", str(db), "--model",
         str(tiny_model), "--workers", "1", "-q"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # A terminal's foreground job: a test run started in the background (`make test &`,
        # nohup, some CI runners) ignores SIGINT, and children inherit that through exec.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        while len(_error_paths(lines)) < 3:
            line = proc.stderr.readline()
            assert line, f"scan ended before it was interrupted: {lines}"
            lines.append(line.strip())
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines += rest.splitlines()
    assert proc.returncode == 130, (f"{len(stored(db))} tracks stored", lines[-3:])
    assert "Traceback" not in rest and any("interrupted" in line for line in lines), lines
    rows = stored(db)
    reported = _error_paths(lines)
    assert len(rows) < 240, "the scan finished before Ctrl-C: make the library bigger"
    for path in reported:
        assert rows[os.path.basename(path)][0] == "error", (path, rows.keys())
    for name, (status, error, _note, n, chunks) in rows.items():
        if status == "ok":
            assert (n, chunks) == (len(CLASSES), True), name


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # an orphan nobody reaps yet is dead all the same


@pytest.mark.slow
def test_workers_are_capped_and_die_within_2_s_of_a_kill_9_of_the_scan(
        tmp_path: Path, tiny_model: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    for i in range(2):
        write_audio(small / f"s{i}.wav", tone(1.0, 8000), 8000)
    result = tagger("scan", str(small), "--db", str(tmp_path / "s.db"), "--model", str(tiny_model),
                    "--workers", "1000")
    assert result.returncode == 0, result.stderr
    assert "note: --workers 1000 capped to 2 (2 track(s) to scan)" in result.stderr
    assert "2 scanned" in result.stdout

    lib = tmp_path / "lib"
    lib.mkdir()
    long = tone(60.0, 16000)
    for i in range(6):
        sf.write(lib / f"t{i}.wav", long * (0.5 + i / 20), 16000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger", "scan", str(lib), "--db", str(tmp_path / "t.db"),
         "--model", str(tiny_model), "--workers", "2", "-q"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(workers := _children(proc.pid)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
            time.sleep(0.05)
        time.sleep(0.3)  # let them get into decoding
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        gone_by = time.monotonic() + 2.0
        while any(map(_running, workers)) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not [w for w in workers if _running(w)], "decode workers outlived the scan"
    finally:
        for w in _children(proc.pid) if proc.poll() is None else []:
            os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_anti_phase_stereo_is_scored_from_one_channel_with_a_note(
        tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    left = tone(4.0, 8000)[:, 0]
    write_audio(lib / "mono.wav", left, 8000)
    for ext in (".wav", ".mp3"):  # libsndfile and FFmpeg mix down separately
        path = write_audio(lib / f"anti{ext}", np.stack([left, -left], axis=1), 8000)
        y = decode(path, sample_rate=8000)
        assert np.sqrt(np.mean(y**2)) > 0.8 * np.sqrt(np.mean(left**2)), ext
    db = tmp_path / "t.db"
    result = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "--workers", "1")
    assert result.returncode == 0, result.stderr
    rows = stored(db)
    for name in ("anti.wav", "anti.mp3"):
        assert rows[name][0] == "ok" and "anti-phase" in rows[name][2], rows[name]
    assert rows["mono.wav"][2] is None
    with Store(db) as store:
        scores = {os.path.basename(t["path"]): store.chunk_scores(t["id"])["presence"]
                  for t in store.iter_tracks()}
    np.testing.assert_allclose(scores["anti.wav"], scores["mono.wav"], atol=2e-3)


@pytest.mark.slow
def test_truncated_ogg_files_become_error_rows(tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for ext in (".ogg", ".opus"):
        full = write_audio(lib / f"full{ext}", tone(30.0, 44100), 44100)
        data = full.read_bytes()
        (lib / f"cut{ext}").write_bytes(data[: len(data) // 3])
    db = tmp_path / "t.db"
    result = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "--workers", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    rows = stored(db)
    for ext in ("ogg", "opus"):
        assert rows[f"full.{ext}"][:2] == ("ok", None)
        status, error, *_ = rows[f"cut.{ext}"]
        assert status == "error" and error.startswith(f"truncated or corrupt {ext}: "), error


@pytest.mark.slow
def test_a_program_and_a_device_named_as_audio_are_reported_as_what_they_are(
        tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(os.path.realpath(shutil.which("ls") or "/bin/ls"), lib / "program.mp3")
    (lib / "zero.wav").symlink_to("/dev/zero")
    (lib / "gone.wav").symlink_to(lib / "nowhere.wav")
    db = tmp_path / "t.db"
    result = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model), "--workers", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert stored(db)["program.mp3"][:2] == ("error", "not an audio file (ELF executable)")
    said = " ".join(result.stderr.split())
    assert f"{lib / 'zero.wav'}: not a regular file (device, socket or pipe)" in said, said
    assert f"{lib / 'gone.wav'}: broken link" in said, said
