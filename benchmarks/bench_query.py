"""How fast is ``tagger query`` on a big library? (A benchmark script, not a timed test.)

Builds a 100,000-track store with realistic rows (every class in ``track_instruments``, a few
segments per present instrument, bulk-inserted in one transaction), then prints the median of
20 ``run_query`` calls for a few queries, the median of 5 runs of the whole CLI command
``tagger query --has sax --paths > /dev/null``, and the time of a full export (merged cursors,
against one query per track).

    .venv/bin/python benchmarks/bench_query.py [--tracks 100000] [--db /tmp/bench.db] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tagger.export import export_tracks, track_record
from tagger.query import QuerySpec, run_query
from tagger.store import Store
from tagger.store.db import now_iso
from tagger.taxonomy import CLASSES

# Chance that a track has each class: a pop/rock-heavy library with some jazz and classical.
PRESENCE = {
    "voice": 0.7, "piano": 0.3, "organ": 0.08, "acoustic_guitar": 0.25, "electric_guitar": 0.35,
    "bass": 0.6, "drums": 0.6, "violin": 0.1, "cello": 0.06, "trumpet": 0.08, "saxophone": 0.1,
    "clarinet": 0.04, "flute": 0.05, "synth": 0.3,
}
FORMATS = ("mp3", "flac", "m4a", "ogg", "opus", "wav")


def build_store(path: Path, n_tracks: int, *, seed: int = 0) -> None:
    """Fill ``path`` with ``n_tracks`` synthetic scan results, all rows in one transaction."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    conn = store.conn
    tracks, instruments, segments = [], [], []
    scanned = now_iso()
    for tid in range(1, n_tracks + 1):
        fmt = FORMATS[int(rng.integers(len(FORMATS)))]
        p = f"/music/Artist {tid % 3000:04d}/Album {tid % 37:02d}/{tid:06d} Song {tid}.{fmt}"
        duration = float(rng.uniform(90, 480))
        error = tid % 500 == 0  # 0.2% failed decodes
        tracks.append((tid, os.fsencode(p), p, 1_000_000 + tid, tid * 10**9, duration, fmt,
                       "tagger-1.0", "error" if error else "ok",
                       "decode failed: invalid data" if error else None, scanned))
        if error:
            continue
        for cls in CLASSES:
            present = rng.random() < PRESENCE[cls]
            if not present:
                instruments.append((tid, cls, float(rng.uniform(0, 0.4)), 0.0, None))
                continue
            role = "foreground" if rng.random() < 0.35 else "background"
            n_seg = int(rng.integers(1, 4))
            bounds = np.sort(rng.uniform(0, duration, 2 * n_seg))
            covered = float(sum(bounds[1::2] - bounds[0::2]) / duration)
            instruments.append((tid, cls, float(rng.uniform(0.5, 1.0)), covered, role))
            for k in range(n_seg):
                segments.append((tid, cls, float(bounds[2 * k]), float(bounds[2 * k + 1]),
                                 float(rng.uniform(0.5, 1.0)), role))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO tracks (id, path_key, path, size, mtime_ns, duration, format,"
                     " model, status, error, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", tracks)
    conn.executemany("INSERT INTO track_instruments VALUES (?,?,?,?,?)", instruments)
    conn.executemany('INSERT INTO segments (track_id, instrument, start, "end", confidence,'
                     " role) VALUES (?,?,?,?,?,?)", segments)
    conn.execute("COMMIT")  # no ANALYZE: a scanned store never has statistics either
    store.close()


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """Median wall and CPU milliseconds of ``runs`` calls (CPU time tells the story on a busy
    machine, where wall time also counts waiting for a core)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus), result


QUERIES: dict[str, QuerySpec] = {
    "--has sax": QuerySpec(has=["sax"]),
    "--has guitar --has sax": QuerySpec(has=["guitar", "sax"]),
    "--any flute,clarinet --not vocals": QuerySpec(any=["flute,clarinet"], not_=["vocals"]),
    "--has sax --role foreground --min-score 0.8": QuerySpec(has=["sax"], role="foreground",
                                                              min_score=0.8),
    "--has keys --has strings --format flac": QuerySpec(has=["keys", "strings"], formats=["flac"]),
    "--has voice (70% of tracks)": QuerySpec(has=["voice"]),
    "--role foreground --limit 50": QuerySpec(role="foreground", limit=50),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep this store")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()

    tmpdir = tempfile.mkdtemp(prefix="tagger-bench-")
    db = args.db or Path(tmpdir) / "bench.db"
    if not db.exists():
        start = time.perf_counter()
        build_store(db, args.tracks)
        print(f"built {args.tracks:,} tracks in {time.perf_counter() - start:.1f} s -> {db}")

    with Store(db) as store:
        n = store.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
        print(f"store: {n:,} tracks, {db.stat().st_size / 1e6:.0f} MB")
        for label, spec in QUERIES.items():
            wall, cpu, hits = median_ms(lambda: run_query(store, spec), args.runs)
            print(f"run_query {label:<44} {wall:7.1f} ms (cpu {cpu:6.1f})"
                  f"  {len(hits):>6,} hits")
        wall, cpu, exported = median_ms(lambda: sum(1 for _ in export_tracks(store)), 1)
        print(f"export_tracks, merged cursors: {exported:,} tracks in {wall / 1000:.1f} s"
              f" (cpu {cpu / 1000:.1f} s)")
        rows = list(store.iter_tracks())
        wall, cpu, _ = median_ms(lambda: [track_record(store, r) for r in rows], 1)
        print(f"for comparison, a query per track:  {len(rows):,} tracks in {wall / 1000:.1f} s"
              f" (cpu {cpu / 1000:.1f} s)")

    cmd = [sys.executable, "-m", "tagger", "query", "--db", str(db), "--has", "sax", "--paths"]
    times = []
    for _ in range(args.cli_runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1000)
    startup = [sys.executable, "-c", "import tagger.cli.app"]
    bare = []
    for _ in range(args.cli_runs):
        start = time.perf_counter()
        subprocess.run(startup, check=True)
        bare.append((time.perf_counter() - start) * 1000)
    print(f"CLI `tagger query --has sax --paths > /dev/null`  {statistics.median(times):7.1f} ms"
          f"  (median of {args.cli_runs} processes; of which importing the CLI:"
          f" {statistics.median(bare):.0f} ms)")
    probe = "import sys, tagger.cli.app; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    print(f"CLI start-up imports torch: {loaded}")
    if not (args.keep or args.db):
        shutil.rmtree(tmpdir)
    else:
        print(f"kept {db}")


if __name__ == "__main__":
    main()
