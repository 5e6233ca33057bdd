"""Local engine vs Ray engine on the same library, and what Ray costs per track (issue #6).

Prints, for this machine:
  1. whole-scan throughput (x real time, tracks/s) of the local engine and of the Ray engine on
     the same files, median of --runs; Ray runs on a cluster started once (or --address), so
     a run pays the pipeline's start (actors load the model) but not the cluster's;
  2. Ray's costs: the fixed start of a scan (a 1-track scan) and the marginal time per track
     (the slope between a 1-track and an N-track scan), each next to the local engine's, so
     "Ray overhead per track" is the difference of the slopes.
With --gpu: one model actor per GPU (num_gpus=1) fed by CPU decode tasks on every other core.
Usage: python benchmarks/bench_ray.py [--quick] [--tracks N] [--seconds S] [--runs R]
                                      [--model NAME] [--address ADDR] [--gpu] [--actors N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, make_library  # noqa: E402

from tagger import ScanOptions, ScanReport, Store, scan  # noqa: E402
from tagger.engines.ray_engine import RayEngine, RayOptions  # noqa: E402
from tagger.pipeline.scanning import default_workers  # noqa: E402


def one_scan(engine: str, paths: list[Path], args: argparse.Namespace) -> ScanReport:
    """A full scan into a fresh store, so nothing is skipped."""
    options = ScanOptions(model=args.model, device="cuda" if args.gpu else "cpu",
                          workers=args.workers, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "b.db") as store:
        if engine == "local":
            return scan([str(p) for p in paths], store=store, options=options)
        ray_options = RayOptions(address=args.address, actors=args.actors,
                                 use_gpus=True if args.gpu else None)
        return scan([str(p) for p in paths], store=store, options=options,
                    engine=RayEngine(ray_options))


def timed(paths: list[Path], args: argparse.Namespace, runs: int) -> dict[str, float]:
    """Median wall time per engine of ``runs`` scans each, local and Ray alternating.

    Alternating spreads a shared machine's changing load over both engines alike.
    """
    times: dict[str, list[float]] = {"local": [], "ray": []}
    for run in range(runs):
        for engine in times:
            started = time.perf_counter()
            report = one_scan(engine, paths, args)
            times[engine].append(time.perf_counter() - started)
            assert report.failed == 0 and report.scanned == len(paths), report.failures
            print(f"   {engine:5s} run {run + 1}: {len(paths)} track(s) in {times[engine][-1]:6.2f} s"
                  f" = {report.audio_seconds / times[engine][-1]:5.0f}x real time")
    return {engine: statistics.median(t) for engine, t in times.items()}


def start_cluster(args: argparse.Namespace) -> float:
    """Join --address, or start a local Ray in this process once for all runs; seconds taken."""
    import ray

    started = time.perf_counter()
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    took = time.perf_counter() - started
    res = ray.cluster_resources()
    print(f"Ray {ray.__version__}: {int(res.get('CPU', 0))} CPU(s), {int(res.get('GPU', 0))} GPU(s),"
          f" {len(ray.nodes())} node(s); cluster start/join {took:.1f} s (paid once, not below)")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each track")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default=None, help="model NAME or PATH (default: the shipped one)")
    ap.add_argument("--workers", type=int, default=default_workers(), help="local decode workers")
    ap.add_argument("--batch-size", type=int, default=None, help="default: each engine's own")
    ap.add_argument("--address", default=None, help="an existing Ray cluster (default: start one)")
    ap.add_argument("--actors", type=int, default=None, help="model actors (default: per cluster)")
    ap.add_argument("--gpu", action="store_true", help="GPU actors (num_gpus=1 each) and a GPU local run")
    ap.add_argument("--quick", action="store_true", help="16 tracks of 20 s, 1 run")
    args = ap.parse_args()
    if args.quick:
        args.tracks, args.seconds, args.runs = 16, 20.0, 1

    paths = make_library(CACHE / f"ray-lib-{args.tracks}x{args.seconds:g}s", tracks=args.tracks,
                         seconds=args.seconds)
    print(f"library: {len(paths)} tracks x {args.seconds:g} s, mixed formats; "
          f"{os.cpu_count()} CPU core(s) here; local engine: {args.workers} decode worker(s)")
    start_cluster(args)
    one_scan("ray", paths[:1], args)  # warm-up: worker processes, imports, file cache
    one_scan("local", paths[:1], args)

    audio_s = len(paths) * args.seconds
    print(f"\n== 1. throughput, median of {args.runs} (load average {os.getloadavg()[0]:.1f})")
    full = timed(paths, args, args.runs)
    for engine, median in full.items():
        print(f"   {engine}: {audio_s / median:.0f}x real time, {len(paths) / median:.2f} tracks/s"
              f" (median {median:.2f} s)")
    print(f"   ray / local throughput: {full['local'] / full['ray']:.2f}")

    print(f"\n== 2. fixed and per-track costs (1 track vs {len(paths)}), median of {args.runs}")
    single = timed(paths[:1], args, args.runs)
    slope = {e: (full[e] - single[e]) / max(1, len(paths) - 1) for e in full}
    for engine in full:
        print(f"   {engine}: 1-track scan {single[engine]:.2f} s;"
              f" {slope[engine] * 1000:.0f} ms per further track")
    print(f"   Ray overhead: {single['ray'] - single['local']:.2f} s per scan (pipeline start)"
          f" + {(slope['ray'] - slope['local']) * 1000:.0f} ms per track"
          f" (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
