"""Whole-scan speed and memory with the shipped model (issue #2 targets).

Prints, for this machine:
  1. whole scan (decode -> database) of a 1-hour library of mixed formats, x real time
     (median of --runs), and the split between decode, frontend, network and writes;
  2. peak RSS over a 500-track scan and RSS growth per track;
  3. re-scan time of an unchanged 5,000-track library (the real CLI, median of 3).
Usage: python benchmarks/bench_scan.py [--quick] [--model NAME] [--workers N] [--only 1,2,3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, MemorySampler, blip_library, make_library, median_time  # noqa: E402

from tagger import ScanOptions, Store, scan  # noqa: E402
from tagger.model.registry import load_model_for_scanning  # noqa: E402
from tagger.pipeline.decode_stage import ChunkSpec, Piece, TrackDataset  # noqa: E402
from tagger.pipeline.scanning import default_workers  # noqa: E402


def whole_scan(paths: list[Path], args: argparse.Namespace) -> None:
    print(f"\n== 1. whole scan: {len(paths)} tracks, {args.workers} decode worker(s), batch {args.batch_size}")
    speeds = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "b.db") as store:
            report = scan([str(p) for p in paths], store=store, options=ScanOptions(
                model=args.model, device="cpu", workers=args.workers, batch_size=args.batch_size))
        speeds.append(report.x_realtime)
        print(f"   run {run + 1}: {report.audio_seconds / 60:.1f} min audio in {report.elapsed_s:.2f} s"
              f" = {report.x_realtime:.0f}x real time ({report.failed} failed)")
    audio_s = report.audio_seconds
    print(f"   median: {statistics.median(speeds):.0f}x real time")

    # The split: each stage alone, in this process, on the same files.
    model, card = load_model_for_scanning(args.model)
    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    dataset = TrackDataset([str(p) for p in paths], spec)
    pieces: list[torch.Tensor] = []

    def decode_all() -> None:
        pieces.clear()
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers)
        for item in loader:
            if isinstance(item, Piece):
                pieces.append(item.windows)

    decode_s, _ = median_time(decode_all, 1)
    windows = torch.cat(pieces)
    batches = list(torch.split(windows, args.batch_size or 8))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - args.workers))
    with torch.inference_mode():
        specs: list[torch.Tensor] = []
        frontend_s, _ = median_time(lambda: specs.__setitem__(slice(None), [model.spectrogram(b) for b in batches]), 1)
        network_s, _ = median_time(lambda: [model.forward_spec(s) for s in specs], 1)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "w.db") as store:
        report = scan([str(p) for p in paths[:1]], store=store, options=ScanOptions(model=args.model, device="cpu", workers=0))
        start = time.perf_counter()
        from tagger.store import TrackResult
        one = store.find_track(str(paths[0]))
        rows = [TrackResult(path=f"/fake/{i}", size=1, mtime_ns=1, model=card.id, duration=60.0,
                            segments=store.segments(one["id"]) * 1, instruments=store.instruments(one["id"]),
                            classes=card.classes, window_s=card.window_s, hop_s=card.hop_s,
                            presence=np.zeros((len(windows) // len(paths), len(card.classes)), np.float32))
                for i in range(len(paths))]
        store.write_results(rows)
        write_s = time.perf_counter() - start
    total = decode_s + frontend_s + network_s + write_s
    print(f"   split ({len(windows)} windows of {card.window_s}s, hop {card.hop_s}s):")
    for name, seconds in (("decode+chunk (workers)", decode_s), ("frontend (log-mel)", frontend_s),
                          ("network", network_s), ("writes", write_s)):
        print(f"     {name:24s} {seconds:6.2f} s  {audio_s / seconds:8.0f}x  {100 * seconds / total:4.0f}%")


def memory(args: argparse.Namespace) -> None:
    n = 100 if args.quick else 500
    folder = CACHE / f"mem{n}"
    make_library(folder, tracks=n, seconds=20.0)
    print(f"\n== 2. memory over a {n}-track scan (20 s tracks, mixed formats)")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "tagger", "scan", str(folder), "--db", f"{tmp}/m.db",
               "--workers", str(args.workers), "-q"] + (["--model", args.model] if args.model else [])
        proc = subprocess.Popen(cmd)
        sampler = MemorySampler(proc.pid)
        sampler.start()
        proc.wait()
        samples = sampler.stop()
    values = np.array([mb for _, mb in samples])
    times = np.array([t for t, _ in samples])
    steady = values[len(values) // 4 :]
    slope = np.polyfit(times[len(values) // 4 :], steady, 1)[0] if len(steady) > 2 else 0.0
    duration = times[-1] if len(times) else 0
    print(f"   peak RSS (main + workers): {values.max():.0f} MB; median {np.median(values):.0f} MB")
    print(f"   growth after warm-up: {slope:+.2f} MB/s over {duration:.0f} s"
          f" = {slope * duration / max(1, n):+.3f} MB per track")


def rescan(args: argparse.Namespace) -> None:
    n = 500 if args.quick else 5000
    folder = blip_library(n)
    db = CACHE / f"rescan{n}.db"
    base = [sys.executable, "-m", "tagger", "scan", str(folder), "--db", str(db), "-q",
            "--workers", str(args.workers)] + (["--model", args.model] if args.model else [])
    print(f"\n== 3. re-scan of an unchanged {n}-track library")
    started = time.perf_counter()
    subprocess.run(base, check=False)
    print(f"   first scan: {time.perf_counter() - started:.1f} s")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(base, check=True)
        times.append(time.perf_counter() - started)
    print(f"   re-scan (CLI, process start included): median {statistics.median(times):.2f} s"
          f" of {', '.join(f'{t:.2f}' for t in times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller libraries (a smoke run)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="1,2,3")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    only = set(args.only.split(","))
    if "1" in only:
        tracks, seconds = (12, 30.0) if args.quick else (60, 60.0)
        whole_scan(make_library(CACHE / f"lib{tracks}x{int(seconds)}", tracks=tracks, seconds=seconds), args)
    if "2" in only:
        memory(args)
    if "3" in only:
        rescan(args)


if __name__ == "__main__":
    main()
