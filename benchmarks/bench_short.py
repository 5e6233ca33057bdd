"""Scan speed on short files (issue #14): 1,000 clips of 0.5-10 s beside the long-track library.

Prints one table: for each library and each checkout, the real CLI (``tagger scan LIB -q``,
a fresh database each run) as wall seconds, x real time, files/s and the per-file overhead,
medians of ``--runs``; then start-up: ``tagger --help`` and an unchanged re-scan of 5,000 files,
and the heaviest imports of each (``python -X importtime``).

CPU s is user + system time of the scan and its decode workers, "main" the scan process's own
share (the model, segmenter and store; the rest is decoding): on a shared machine they move
less than wall time. Per-file overhead = (wall - fixed - audio / long_rate) / files: what a
file costs beyond its audio, where ``fixed`` is a forced scan of one 0.5-s clip (imports, model, workers) and
``long_rate`` the long library's audio seconds per wall second once ``fixed`` is taken off.

Usage: python benchmarks/bench_short.py [--runs 3] [--against DIR [--against-python PY]] [--quick]
       python benchmarks/bench_short.py --profile   (per-stage CPU of a clip: short_stages.py)
``--against DIR`` runs DIR's code too (DIR/.venv/bin/python, or PY, run in DIR so that
``-m tagger`` imports DIR's package), interleaved run by run with this checkout's, and prints
the ratios. Libraries are cached under build/bench-short/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, ROOT, blip_library, make_library  # noqa: E402

OUT = ROOT / "build" / "bench-short"
SHORT_FORMATS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
SOURCES = sorted((ROOT / "examples" / "library").glob("[0-9][0-9]-*.*"))


def encode_args(ext: str) -> list[str]:
    from audiofiles import CODECS
    return CODECS[ext]


def source_seconds(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def clip_library(clips: int) -> tuple[list[Path], float]:
    """``clips`` cuts of 0.5-10 s from the example songs (rendered instruments), cycling the
    five formats; made once with ffmpeg (three at a time) and cached. Returns the paths and
    the total seconds."""
    from concurrent.futures import ThreadPoolExecutor

    folder = OUT / f"clips{clips}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        lengths = json.loads(manifest.read_text())
        return [folder / name for name in lengths], float(sum(lengths.values()))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(14)
    durations = [source_seconds(s) for s in SOURCES]
    jobs: list[list[str]] = []
    lengths: dict[str, float] = {}
    for i in range(clips):
        source, duration = SOURCES[i % len(SOURCES)], durations[i % len(SOURCES)]
        seconds = float(np.round(rng.uniform(0.5, 10.0), 2))
        start = float(np.round(rng.uniform(0.0, duration - seconds - 0.5), 2))
        ext = SHORT_FORMATS[i % len(SHORT_FORMATS)]
        name = f"clip{i:05d}{ext}"
        jobs.append(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", str(start),
                     "-t", str(seconds), "-i", str(source), "-ac", "2", "-ar", "44100",
                     *encode_args(ext), str(folder / name)])
        lengths[name] = seconds
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda cmd: subprocess.run(cmd, check=True), jobs))
    manifest.write_text(json.dumps(lengths))
    return [folder / name for name in lengths], float(sum(lengths.values()))


# Runs ``python -m tagger ARGS`` and, at exit, writes the CPU seconds of the scan process itself
# and of its (finished) decode workers to stderr, so the table can split the two.
_SPLIT_CPU = """
import atexit, os, resource, runpy, sys
def _report():
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    os.write(2, ("\\nbench-cpu %.3f %.3f\\n" % (own.ru_utime + own.ru_stime,
                                            kids.ru_utime + kids.ru_stime)).encode())
atexit.register(_report)
sys.argv = ["tagger", *sys.argv[1:]]
runpy.run_module("tagger", run_name="__main__", alter_sys=True)
"""


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child process (and theirs: the workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Checkout:
    """One version of the code: its interpreter, run in its folder."""

    name: str
    python: str
    cwd: Path
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)  # user + system, with workers
    main_cpus: dict[str, list[float]] = field(default_factory=dict)  # the scan process alone

    def tagger(self, *args: str) -> list[str]:
        return [self.python, "-m", "tagger", *args]

    def tagger_split(self, *args: str) -> list[str]:
        """Like ``tagger`` but reports the scan process's own CPU apart from its workers'."""
        return [self.python, "-c", _SPLIT_CPU, *args]

    def timed(self, key: str, cmd: list[str], check: bool = True) -> float:
        before = _children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.cwd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        self.cpus.setdefault(key, []).append(_children_cpu() - before)
        if check and proc.returncode != 0:
            raise SystemExit(f"{self.name}: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        self.walls.setdefault(key, []).append(wall)
        split = re.search(r"^bench-cpu ([\d.]+) ([\d.]+)$", proc.stderr, re.M)
        if split:
            self.main_cpus.setdefault(key, []).append(float(split.group(1)))
        return wall

    def median(self, key: str) -> float:
        return statistics.median(self.walls[key])


def _median_or_dash(values: list[float] | None) -> str:
    return f"{statistics.median(values):5.1f}" if values else f"{'-':>5}"


def scan_fresh(checkout: Checkout, key: str, target: Path | str, extra: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        checkout.timed(key, checkout.tagger_split("scan", str(target), "--db", f"{tmp}/s.db",
                                                  "-q", *extra))


def heaviest_imports(checkout: Checkout, args: list[str], top: int = 6) -> str:
    """The ``top`` top-level imports by cumulative time under ``-X importtime``."""
    proc = subprocess.run([checkout.python, "-X", "importtime", "-m", "tagger", *args],
                          cwd=checkout.cwd, capture_output=True, text=True)
    cumulative: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 1:  # top level
            root = m.group(3).split(".")[0]
            cumulative[root] = cumulative.get(root, 0) + int(m.group(1))
    ranked = sorted(cumulative.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {us / 1e3:.0f} ms" for name, us in ranked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout to run interleaved (its .venv/bin/python)")
    parser.add_argument("--against-python", default=None,
                        help="interpreter for --against (default DIR/.venv/bin/python); run in"
                             " DIR, so `-m tagger` imports DIR's tagger")
    parser.add_argument("--quick", action="store_true", help="200 clips, 12 long tracks")
    parser.add_argument("--only", default="short,long,startup")
    parser.add_argument("--model", default=None)
    parser.add_argument("--profile", action="store_true",
                        help="print where a clip's CPU time goes, stage by stage"
                             " (benchmarks/short_stages.py, this checkout), then exit")
    args = parser.parse_args()
    if args.profile:
        clip_library(1000)
        stages = Path(__file__).resolve().parent / "short_stages.py"
        raise SystemExit(subprocess.run([sys.executable, str(stages)], cwd=ROOT).returncode)
    only = set(args.only.split(","))
    extra = ["--model", args.model] if args.model else []

    clips, clip_audio = clip_library(200 if args.quick else 1000)
    tracks, seconds = (12, 30.0) if args.quick else (60, 60.0)
    long_paths = make_library(CACHE / f"lib{tracks}x{int(seconds)}", tracks=tracks, seconds=seconds)
    long_dir, long_audio = long_paths[0].parent, tracks * seconds
    rescan_dir = blip_library(500 if args.quick else 5000)

    checkouts = [Checkout("this", sys.executable, ROOT)]
    if args.against:
        python = args.against_python or str(args.against / ".venv" / "bin" / "python")
        checkouts.append(Checkout(f"{args.against}", python, args.against))
    dbs = {}
    scanned = Path(tempfile.mkdtemp()) / "rescan.db"
    if "startup" in only:  # the unchanged re-scan needs a scanned store: one, copied to each
        checkouts[0].timed("first", checkouts[0].tagger("scan", str(rescan_dir), "--db",
                                                        str(scanned), "-q", *extra), check=False)
    for c in checkouts:
        dbs[c.name] = tempfile.mkdtemp() + "/rescan.db"
        if scanned.exists():
            shutil.copyfile(scanned, dbs[c.name])
    print(f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}; short: {len(clips)} clips,"
          f" {clip_audio:.0f} s; long: {tracks} x {seconds:.0f} s; medians of {args.runs} runs")
    for run in range(args.runs):
        for c in checkouts:  # interleaved, so a noisy moment hits both
            scan_fresh(c, "fixed", clips[0], ["--force", *extra])
            if "short" in only:
                scan_fresh(c, "short", clips[0].parent, extra)
            if "long" in only:
                scan_fresh(c, "long", long_dir, extra)
            if "startup" in only:
                c.timed("help", c.tagger("--help"))
                c.timed("rescan", c.tagger("scan", str(rescan_dir), "--db", dbs[c.name], "-q",
                                           *extra), check=False)
        print(f"  run {run + 1} done", file=sys.stderr)

    print(f"\n{'checkout':<22} {'library':<7} {'files':>6} {'wall s':>7} {'x real':>7}"
          f" {'files/s':>8} {'ms/file':>8} {'CPU s':>6} {'main':>5}")
    for c in checkouts:
        fixed = c.median("fixed")
        long_rate = long_audio / max(c.median("long") - fixed, 1e-6) if "long" in only else None
        for key, files, audio in (("short", len(clips), clip_audio), ("long", tracks, long_audio)):
            if key not in only:
                continue
            wall = c.median(key)
            over = (f"{1e3 * (wall - fixed - audio / long_rate) / files:8.1f}"
                    if long_rate and key == "short" else f"{'-':>8}")  # long: the reference
            print(f"{c.name[-22:]:<22} {key:<7} {files:>6} {wall:7.2f} {audio / wall:7.0f}"
                  f" {files / wall:8.1f} {over} {statistics.median(c.cpus[key]):6.1f}"
                  f" {_median_or_dash(c.main_cpus.get(key))}   runs: "
                  + ", ".join(f"{w:.1f}" for w in c.walls[key]))
        print(f"{c.name[-22:]:<22} fixed cost (forced scan of one clip): {fixed:.2f} s")
        if "startup" in only:
            print(f"{c.name[-22:]:<22} tagger --help {c.median('help'):.2f} s;"
                  f" unchanged re-scan of {rescan_dir.name[6:]} files {c.median('rescan'):.2f} s")
    if len(checkouts) == 2:
        this, other = checkouts
        for key in ("short", "long", "help", "rescan"):
            if key in this.walls:
                cpu_then, cpu_now = (statistics.median(c.cpus[key]) for c in (other, this))
                main = (f" (scan process {_median_or_dash(other.main_cpus[key])} s ->"
                        f" {_median_or_dash(this.main_cpus[key])} s)"
                        if key in this.main_cpus and key in other.main_cpus else "")
                print(f"speed-up {key:<7}: {other.median(key) / this.median(key):.2f}x"
                      f" ({other.median(key):.2f} s -> {this.median(key):.2f} s); CPU"
                      f" {cpu_then:.1f} s -> {cpu_now:.1f} s{main}")
    if "startup" in only:
        print("\nheaviest imports (-X importtime, cumulative):")
        for c in checkouts:
            print(f"  {c.name[-22:]:<22} --help: {heaviest_imports(c, ['--help'])}")
            print(f"  {c.name[-22:]:<22} re-scan: "
                  f"{heaviest_imports(c, ['scan', str(rescan_dir), '--db', dbs[c.name], '-q'])}")


if __name__ == "__main__":
    main()
