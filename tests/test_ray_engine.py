"""The Ray engine on a real two-node Ray cluster on this machine (127.0.0.1).

The module fixture starts a head node and a second node with ``ray start`` (each 1 CPU, the
second with its own ``node2`` resource), as a user would on two machines, and tears them down
afterwards. The scans use the tiny random-weight model from conftest; what is checked is that
the Ray engine stores exactly what the local engine stores, and that killing the processes
doing the work mid-scan neither loses nor duplicates a track.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofiles import tone, write_audio
from tagger import ScanOptions, ScanProgress, ScanReport, Store, load_model, scan
from tagger.engines.ray_engine import hand_over, ray_available
from tagger.engines.ray_stages import ModelActor, decode_tracks
from tagger.pipeline.assemble import TrackAssembler
from tagger.pipeline.decode_stage import ChunkSpec
from tagger.pipeline.discover import Candidate, discover
from tagger.pipeline.scanning import ResultSink

pytestmark = pytest.mark.slow

# A string: pytest evaluates it when a test runs, so collecting (for `-m "not slow"`, too) does
# not import Ray (~2 s).
needs_ray = pytest.mark.skipif(
    "not ray_available()", reason='Ray is not installed (pip install "tagger[ray]")')

RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` command of this Python
DECODE_TITLE = "ray::MapBatches(decode_tracks)"
ACTOR_BUSY_TITLE = "ray::MapWorker(MapBatches(ModelActor))."  # + the method it runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


@dataclass
class Cluster:
    """A two-node Ray cluster started by this test; found again by its unique temp dir."""

    address: str
    env: dict[str, str]
    temp_dir: str
    node2_port: int

    def processes(self) -> list[int]:
        """Every process of this cluster: its daemons (named with our temp dir) and their children.

        Ray workers rename themselves (``ray::...``), so they are found as descendants.
        """
        roots = [int(p) for p in os.listdir("/proc")
                 if p.isdigit() and self.temp_dir in _cmdline(int(p))]
        tree, found, todo = _children(), [], list(roots)
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(tree.get(pid, []))
        return found

    def workers_titled(self, prefix: str) -> list[int]:
        return [p for p in self.processes() if _cmdline(p).startswith(prefix)]

    def node_of(self, pid: int) -> str:
        """``node2`` if ``pid`` descends from the second node's raylet, else ``head``."""
        while pid > 1:
            if f"--node_manager_port={self.node2_port}" in _cmdline(pid):
                return "node2"
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    pid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                break
        return "head"

    def stop(self) -> None:
        """Kill this cluster's processes by pid (``ray stop`` would kill every Ray on the host)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.processes()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if os.path.exists(f"/proc/{p}") and "zombie" not in _state(p)]
                time.sleep(0.1)
            if not pids:
                break


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((line for line in fh if line.startswith("State:")), "").lower()
    except OSError:
        return "zombie"


def _ray_start(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([*RAY, "start", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode:
        raise RuntimeError(f"ray start {' '.join(args)} failed:\n{done.stderr[-3000:]}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    temp_dir = tempfile.mkdtemp(prefix="rayt-", dir="/tmp")  # short: Ray puts sockets in it
    port, node2_port = _free_port(), _free_port()
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0",
           # A cluster of its own, with its own token: nothing read from or written to ~/.ray.
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    common = ["--num-cpus=1", "--disable-usage-stats", "--object-store-memory=300000000"]
    found = Cluster(f"127.0.0.1:{port}", env, temp_dir, node2_port)
    try:
        # Ray itself swaps 127.0.0.1 for this host's address; the nodes still talk locally.
        _ray_start(env, "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                   "--include-dashboard=false", f"--temp-dir={temp_dir}", *common)
        _ray_start(env, f"--address={found.address}", '--resources={"node2": 1}',
                   f"--node-manager-port={node2_port}", *common)
        yield found
    finally:
        found.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _options(model: Path) -> ScanOptions:
    return ScanOptions(model=str(model), device="cpu", workers=1, batch_size=8)


def _results(db: Path) -> dict[str, dict]:
    """Everything a scan stored, per file name."""
    out = {}
    with Store(db) as store:
        for t in store.iter_tracks():
            scores = store.chunk_scores(t["id"]) if t["status"] == "ok" else None
            out[os.path.basename(t["path"])] = {
                "status": t["status"], "error": t["error"], "note": t["note"],
                "duration": t["duration"],
                "segments": sorted((s.instrument, s.start, s.end, s.role, s.confidence)
                                   for s in store.segments(t["id"])),
                "presence": None if scores is None else scores["presence"],
                "foreground": None if scores is None else scores.get("foreground"),
            }
    return out


def _assert_same(local: dict[str, dict], ray: dict[str, dict]) -> None:
    assert local.keys() == ray.keys()
    for name, want in local.items():
        got = ray[name]
        assert (got["status"], got["error"], got["note"]) == (
            want["status"], want["error"], want["note"]), name
        if want["status"] != "ok":
            continue
        assert got["duration"] == pytest.approx(want["duration"], abs=1e-3), name
        np.testing.assert_allclose(got["presence"], want["presence"], atol=2e-3, err_msg=name)
        if want["foreground"] is not None:
            np.testing.assert_allclose(got["foreground"], want["foreground"], atol=2e-3)
        assert len(got["segments"]) == len(want["segments"]), name
        for g, w in zip(got["segments"], want["segments"]):
            assert g[:4] == w[:4], name  # instrument, start, end, role
            assert g[4] == pytest.approx(w[4], abs=2e-3), name


def _rows_in_any_order(batches: list[dict[str, np.ndarray]], seed: int) -> list[dict]:
    """Single-row batches, shuffled, with some repeated: what retried Ray tasks can deliver."""
    rows = [{k: v[i : i + 1] for k, v in b.items()} for b in batches for i in range(len(b["track"]))]
    rng = np.random.default_rng(seed)
    rows += [rows[i] for i in rng.choice(len(rows), size=len(rows) // 3)]
    return [rows[i] for i in rng.permutation(len(rows))]


def test_stages_reassembled_in_any_order_with_repeats_store_what_a_local_scan_stores(
        tmp_path: Path, tiny_model: Path) -> None:
    """No cluster: the two stages called directly, their rows shuffled and repeated. A track
    whose decode repaired its audio keeps the note (the Ray engine used to drop it)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for i, ext in enumerate((".wav", ".flac", ".mp3")):
        write_audio(lib / f"t{i}{ext}", tone(3.0 + 4 * i, 44100, freq=330 * (i + 1)), 44100)
    (lib / "bad.wav").write_bytes(b"RIFF not really")
    with_nan = tone(3.0, 8000)[:, 0]
    with_nan[1000:1010] = np.nan
    sf.write(lib / "nan.wav", with_nan, 8000, subtype="FLOAT")  # decode repairs: a note
    local_db, db = tmp_path / "local.db", tmp_path / "stages.db"
    with Store(local_db) as store:
        scan([str(lib)], store=store, options=_options(tiny_model))

    tracks = [c for c in discover([str(lib)]) if isinstance(c, Candidate)]
    model, card = load_model(str(tiny_model))
    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    actor = ModelActor(model, use_gpu=False, threads=1, batch_size=8)
    scored = []
    for i, track in enumerate(tracks):  # one decode "task" per track, pieces of 3 windows
        batch = {"track": np.array([i]), "path": np.array([os.fsencode(track.path)], dtype=object)}
        scored += [actor(rows) for rows in decode_tracks(batch, spec=spec, chunks_per_piece=3)]
    report = ScanReport()
    with Store(db) as store:
        sink = ResultSink(store, card, report, ScanProgress())
        assembler = TrackAssembler(tracks, sink)
        for rows in _rows_in_any_order(scored, seed=1):
            hand_over(rows, assembler)
        sink.flush()
    assert assembler.unfinished() == [] and assembler.duplicates > 0
    assert (report.scanned, report.failed) == (4, 1)  # each track handed over once
    local = _results(local_db)
    assert "10 NaN" in local["nan.wav"]["note"]
    _assert_same(local, _results(db))


def _cli_scan(cluster: Cluster, lib: Path, db: Path, model: Path) -> subprocess.Popen:
    """The real command line, a separate driver process joining the test cluster."""
    return subprocess.Popen(
        [sys.executable, "-m", "tagger", "scan", str(lib), "--db", str(db), "--model", str(model),
         "--batch-size", "8", "--engine", "ray", "--ray-address", cluster.address],
        env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@needs_ray
def test_cli_ray_scan_stores_what_a_local_scan_stores(
        tmp_path: Path, tiny_model: Path, cluster: Cluster) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for i, ext in enumerate((".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")):
        write_audio(lib / f"track{i}{ext}", tone(2.5 + 1.5 * i, 44100, freq=220 * (i + 1),
                                                 channels=2), 44100)
    write_audio(lib / "blip.wav", tone(0.1), 44100)  # shorter than a window: padded
    with_nan = tone(3.0, 8000)[:, 0]
    with_nan[100:110] = np.nan
    sf.write(lib / "nan.wav", with_nan, 8000, subtype="FLOAT")  # repaired, with a note
    (lib / "corrupt.mp3").write_text("This is not music.\n" * 20)
    local_db, ray_db = tmp_path / "local.db", tmp_path / "ray.db"
    with Store(local_db) as store:
        scan([str(lib)], store=store, options=_options(tiny_model))

    rc, out, err = _finish(_cli_scan(cluster, lib, ray_db, tiny_model))
    assert rc == 1, err  # the corrupt file: an error row, exit code 1
    assert "8 scanned, 0 unchanged, 1 failed" in out, out + err
    assert "note" in err and "10 NaN" in _results(ray_db)["nan.wav"]["note"], err
    _assert_same(_results(local_db), _results(ray_db))

    rc, out, err = _finish(_cli_scan(cluster, lib, ray_db, tiny_model))  # unchanged: skipped
    assert rc == 1, err  # the corrupt file is not decoded again, but still reported
    assert "0 scanned, 9 unchanged, 0 failed, 1 unchanged with errors" in out, out + err


class KillWhileBusy(threading.Thread):
    """Kills one decode task's worker and the model actor while each is running work.

    A Ray worker's process title names the task it runs, so seeing the title means the kill
    lands mid-task. Records what it killed and whether the scan was still running then.
    """

    def __init__(self, cluster: Cluster, scan: subprocess.Popen):
        super().__init__(daemon=True)
        self.cluster, self.scan = cluster, scan
        self.killed: dict[str, tuple[str, bool]] = {}  # what -> (node, scan still running)

    def run(self) -> None:
        while self.scan.poll() is None and len(self.killed) < 2:
            for what, title in (("decode", DECODE_TITLE), ("actor", ACTOR_BUSY_TITLE)):
                pids = [] if what in self.killed else self.cluster.workers_titled(title)
                if pids:
                    node = self.cluster.node_of(pids[0])
                    os.kill(pids[0], signal.SIGKILL)
                    self.killed[what] = (node, self.scan.poll() is None)
            time.sleep(0.02)


@needs_ray
def test_killed_workers_mid_scan_lose_and_duplicate_no_track(
        tmp_path: Path, tiny_model: Path, cluster: Cluster) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    tracks = 24
    for i in range(tracks):
        write_audio(lib / f"t{i:02d}{'.flac' if i % 2 else '.wav'}",
                    tone(20.0, 22050, freq=110 * (1 + i % 7)), 22050)
    db = tmp_path / "ray.db"
    proc = _cli_scan(cluster, lib, db, tiny_model)
    killer = KillWhileBusy(cluster, proc)
    killer.start()
    rc, out, err = _finish(proc)
    killer.join()
    assert set(killer.killed) == {"decode", "actor"}, (killer.killed, err)
    assert all(running for _, running in killer.killed.values())
    # One CPU per node: the actor holds one node's, so decoding ran on the other node.
    assert {node for node, _ in killer.killed.values()} == {"head", "node2"}, killer.killed
    # "scanned" counts the sink's stores: a track stored twice would count twice.
    assert rc == 0 and f"{tracks} scanned, 0 unchanged, 0 failed" in out, out + err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT status, COUNT(*) FROM tracks GROUP BY status").fetchall() == [
        ("ok", tracks)]
    conn.close()
    local_db = tmp_path / "local.db"
    with Store(local_db) as store:
        scan([str(lib)], store=store, options=_options(tiny_model))
    _assert_same(_results(local_db), _results(db))
