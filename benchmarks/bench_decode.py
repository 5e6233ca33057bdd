"""Decode speed per format and backend, and peak memory of streaming a 3-hour track.

Why: ``tagger.audio`` picks a backend per format by measured speed, and the scan as a whole must
run at >= 600x real time on two cores, so decoding has to be far faster than that on one. Run:

    .venv/bin/python benchmarks/bench_decode.py [--sample-rate 32000] [--runs 5] [--audioread]

Files: 60 s of a music-like stereo signal at 44.1 kHz (notes with overtones and decays, a noise
hit every other beat), encoded by ffmpeg in every format of ``tests/audiofiles.py``, in a temp
dir. Each figure is the median of ``--runs`` runs pinned to one CPU, as x real time by wall clock
and by CPU time of this process (the CPU figure is steadier on a shared machine). ``pyav+swr`` is
not a tagger backend: it is PyAV decoding with FFmpeg's own resampler/mixdown in the decoder, the
alternative to soxr that the module rejected; it is here so that choice stays measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from audiofiles import FORMATS, write_audio  # noqa: E402

from tagger.audio.decode import DecodeError, decode_blocks, probe  # noqa: E402
from tagger.audio.opening import open_track  # noqa: E402

SECONDS = 60.0


def music(seconds: float, sr: int = 44100, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Music-like test signal: random notes (5 harmonics, decaying), panned, plus noise hits.

    A pure tone would flatter FLAC and the lossy codecs; this compresses roughly like music.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros((n, channels), np.float32)
    k = int(0.25 * sr)
    tt = np.arange(k) / sr
    env = np.exp(-tt * 6)
    for start in range(0, n, k):
        m = min(k, n - start)
        for _ in range(3):
            f = 110 * 2 ** (rng.integers(0, 36) / 12)
            phase = rng.random(5) * 6
            w = sum(np.sin(2 * np.pi * f * h * tt[:m] + phase[h - 1]) / h for h in range(1, 6))
            pan = rng.random()
            for c in range(channels):
                out[start : start + m, c] += 0.08 * (pan if c % 2 == 0 else 1 - pan) * w * env[:m]
        if rng.random() < 0.5:
            hit = rng.standard_normal(m) * np.exp(-tt[:m] * 40) * 0.15
            out[start : start + m] += hit[:, None].astype(np.float32)
    return out


def pyav_swr(path: Path, sample_rate: int) -> int:
    """PyAV decode with FFmpeg's swresample doing mixdown and resampling per frame."""
    import av

    n = 0
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        parts = []
        for frame in c.decode(c.streams.audio[0]):
            for o in res.resample(frame):
                parts.append(o.to_ndarray()[0])
        for o in res.resample(None):
            parts.append(o.to_ndarray()[0])
        n = sum(len(p) for p in parts)
    return n


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` calls (after one warm-up call)."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def speed_table(tmp: Path, sample_rate: int, runs: int, audioread: bool) -> None:
    signal = music(SECONDS)
    files = {ext: write_audio(tmp / f"music{ext}", signal, 44100) for ext in FORMATS}
    variants: dict[str, Callable[[Path], object]] = {
        "auto": lambda p: sum(map(len, decode_blocks(p, sample_rate=sample_rate))),
        "soundfile": lambda p: sum(
            map(len, decode_blocks(p, sample_rate=sample_rate, backend="soundfile"))
        ),
        "pyav": lambda p: sum(map(len, decode_blocks(p, sample_rate=sample_rate, backend="pyav"))),
        "pyav+swr": lambda p: pyav_swr(p, sample_rate),
    }
    if audioread:
        variants["audioread"] = lambda p: sum(
            map(len, decode_blocks(p, sample_rate=sample_rate, backend="audioread"))
        )
    print(f"\nx real time (60 s, 44.1 kHz stereo -> {sample_rate} Hz mono), median of {runs}")
    print("wall-clock / cpu-time; 'auto' is what tagger.audio uses", end="")
    print("; audioread's cpu excludes its ffmpeg subprocess\n" if audioread else "\n")
    header = " ".join(f"{v:>15s}" for v in variants)
    print(f"{'format':7s} {'size':>7s} {'auto picks':>10s} {header}")
    for ext, path in files.items():
        opened = open_track(str(path), "auto")
        picked = opened.source.name
        opened.source.close()
        cells = []
        for name, fn in variants.items():
            try:
                wall, cpu = timed(lambda: fn(path), runs)
                cells.append(f"{SECONDS / wall:6.0f}/{SECONDS / max(cpu, 1e-9):6.0f}x")
            except DecodeError:
                cells.append(f"{'-':>15s}")
        size = f"{path.stat().st_size / 1e6:.1f}M"
        print(f"{ext:7s} {size:>7s} {picked:>10s} " + " ".join(f"{c:>15s}" for c in cells))
    print("\nprobe() time per file (median of runs):")
    print("  " + "  ".join(f"{ext} {timed(lambda: probe(p), runs)[0] * 1000:.1f}ms"
                           for ext, p in files.items()))  # fmt: skip


_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[3])
import av, soundfile, soxr  # noqa: F401  (imported before the baseline, like a warm worker)
from tagger.audio.decode import decode_blocks

def status(field):  # VmHWM is this process's own peak; ru_maxrss would include the parent's
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

base = status("VmRSS:")
t0 = time.perf_counter(); c0 = time.process_time(); n = 0; biggest = 0
for b in decode_blocks(sys.argv[1], sample_rate=int(sys.argv[2]), backend=sys.argv[4]):
    n += len(b); biggest = max(biggest, b.nbytes)
print(base, status("VmHWM:"), n, time.perf_counter() - t0, time.process_time() - c0, biggest)
"""


def long_track_memory(tmp: Path, sample_rate: int) -> None:
    """Peak RSS of streaming a 3-hour mp3 in a fresh process (32 kbps, made by looping 60 s)."""
    short = write_audio(tmp / "short.wav", music(SECONDS, seed=1), 44100)
    loop = tmp / "loop.mp3"
    long = tmp / "three_hours.mp3"
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*quiet, "-i", str(short), "-c:a", "libmp3lame", "-b:a", "32k", str(loop)],
                   check=True)  # fmt: skip
    subprocess.run([*quiet, "-stream_loop", "179", "-i", str(loop), "-c", "copy", str(long)],
                   check=True)  # fmt: skip
    hours = probe(long).duration_s / 3600
    size_mb = long.stat().st_size / 1e6
    print(f"\n{hours:.2f} h mp3 ({size_mb:.0f} MB), 30 s blocks at {sample_rate} Hz, new process:")
    for backend in ("auto", "pyav"):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(long), str(sample_rate), str(ROOT), backend],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        base_kb, peak_kb, n, wall, cpu, biggest = (float(v) for v in out.stdout.split())
        mib = 1 / 1024
        print(f"  {backend:5s} peak RSS {peak_kb * mib:.0f} MiB ({base_kb * mib:.0f} after imports:"
              f" decoding added <= {(peak_kb - base_kb) * mib:.0f} MiB; one block"
              f" {biggest / 2**20:.1f} MiB, whole track {n * 4 / 2**20:.0f} MiB);"
              f" {hours * 3600 / wall:.0f}x wall, {hours * 3600 / cpu:.0f}x cpu")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample-rate", type=int, default=32000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last one)")
    ap.add_argument("--audioread", action="store_true", help="also time the audioread fallback")
    ap.add_argument("--skip-long", action="store_true", help="skip the 3-hour memory test")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {args.cpu if args.cpu is not None else cpus[-1]})
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as d:
        speed_table(Path(d), args.sample_rate, args.runs, args.audioread)
        if not args.skip_long:
            long_track_memory(Path(d), args.sample_rate)


if __name__ == "__main__":
    main()
