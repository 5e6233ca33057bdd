"""Helpers shared by the benchmark scripts: making a test library, timing, memory sampling."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from audiofiles import FORMATS, write_audio  # noqa: E402

CACHE = ROOT / "bench-out"


def music_like(seconds: float, sr: int, seed: int) -> np.ndarray:
    """A stereo signal with chords, a bass line and noise hits, so codecs work as on music."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for beat in range(int(seconds * 2)):
        start = beat * sr // 2
        freqs = 110 * 2 ** (rng.integers(0, 24, size=3) / 12)
        seg = slice(start, start + sr // 2)
        for f in freqs:
            out[seg] += 0.1 * np.sin(2 * np.pi * f * t[seg])
        hit = rng.standard_normal(min(2000, len(out) - start)) * np.exp(-np.arange(min(2000, len(out) - start)) / 300)
        out[start : start + len(hit)] += 0.2 * hit
    stereo = np.stack([out, np.roll(out, 50)], axis=1)
    return (stereo / max(1e-9, np.abs(stereo).max()) * 0.8).astype(np.float32)


def make_library(folder: Path, *, tracks: int, seconds: float, formats=FORMATS, sr: int = 44100) -> list[Path]:
    """Write (once; cached) ``tracks`` files cycling through ``formats``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(tracks):
        ext = formats[i % len(formats)]
        path = folder / f"track{i:05d}{ext}"
        if not path.exists():
            write_audio(path, music_like(seconds, sr, seed=i), sr, title=f"Track {i}", artist="Bench")
        paths.append(path)
    return paths


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total / 1e6


class MemorySampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self._halt.is_set():
            self.samples.append((time.perf_counter() - started, rss_mb(self.pid)))
            time.sleep(self.interval)

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join()
        return self.samples


def blip_library(n: int) -> Path:
    """``n`` wav files of 0.5 s of silence under ``CACHE/rescan{n}`` (made once): the library
    whose unchanged re-scan bench_scan.py and bench_short.py time."""
    import soundfile as sf

    folder = CACHE / f"rescan{n}"
    folder.mkdir(parents=True, exist_ok=True)
    blip = np.zeros(4000, np.float32)
    for i in range(n):
        path = folder / f"t{i:05d}.wav"
        if not path.exists():
            sf.write(path, blip, 8000)
    return folder
