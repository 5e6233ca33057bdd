"""How fast does the data engine feed training? (A benchmark script, not a timed test.)

Prints, on one core (threads pinned to 1):

- mixing: clips per second from the stem cache (``MixtureSource``: draw, mix, augment, label),
  for 3-s and 10-s clips; the target is >= 30 three-second clips/s/core so CPU training is
  never starved;
- rendering: how many times faster than real time a fresh song renders through fluidsynth
  (FluidR3) and a sampler phrase is built from recorded notes, i.e. what a cache miss costs.

    .venv/bin/python benchmarks/bench_data.py [--cache DIR] [--sample-rate 32000] [--seconds 10]

Uses the full cache if built (``python -m tagger.train.data.build``), else builds the quick one.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tagger.train.data.api import ensure_bank  # noqa: E402
from tagger.train.data.build import DEFAULT_CACHE  # noqa: E402
from tagger.train.data.content import generated_song  # noqa: E402
from tagger.train.data.gm import SOUNDFONTS  # noqa: E402
from tagger.train.data.mixture import MixtureSource  # noqa: E402
from tagger.train.data.render import render_songs  # noqa: E402
from tagger.train.data.sampler import Sample, phrase  # noqa: E402
from tagger.train.data.split import split_sources  # noqa: E402


def bench_mix(bank, sample_rate: int, clip_s: float, seconds: float) -> float:
    src = MixtureSource(bank, sample_rate=sample_rate, clip_seconds=clip_s)
    it = src.examples(np.random.default_rng(0))
    for _ in range(5):
        next(it)  # warm up (FFT plans, page cache)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        next(it)
        n += 1
    return n / (time.perf_counter() - t0)


def bench_render() -> tuple[float, float]:
    """(x real time for a 4-part song on FluidR3, x real time for a sampler phrase)."""
    rng = np.random.default_rng(0)
    font = next(f for f in SOUNDFONTS if f.name == "fluid")
    song = generated_song(rng, "bench", bars=8, drums=True)
    t0 = time.perf_counter()
    stems = render_songs([song], [font], rng)
    render_x = sum(s.seconds for s in stems) / (time.perf_counter() - t0)
    sr = 32000
    t = np.arange(int(1.5 * sr)) / sr
    notes = [Sample((np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * np.exp(-3 * t))
                    .astype(np.float32), p) for p in range(48, 73, 3)]
    t0 = time.perf_counter()
    x = phrase(notes, "piano", rng, seconds=20.0)
    sampler_x = len(x) / sr / (time.perf_counter() - t0)
    return render_x, sampler_x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--sample-rate", type=int, default=32000)
    ap.add_argument("--seconds", type=float, default=10.0, help="time per measurement")
    args = ap.parse_args()
    cache = Path(args.cache).expanduser()
    quick = not (cache / "index.json").exists()
    if quick:
        cache = Path(tempfile.gettempdir()) / "tagger-bench-stems"
    bank = ensure_bank(cache, quick=quick)
    train, _ = split_sources(bank)
    hours = sum(s.seconds for s in train) / 3600
    print(f"cache {cache}{' (quick)' if quick else ''}: {len(train)} training stems, "
          f"{hours:.2f} h")
    for clip_s in (3.0, 10.0):
        rate = bench_mix(train, args.sample_rate, clip_s, args.seconds)
        print(f"mix {clip_s:4.1f}-s clips @ {args.sample_rate} Hz: {rate:6.1f} clips/s/core "
              f"({rate * clip_s / 3:.1f} three-second equivalents)")
    render_x, sampler_x = bench_render()
    print(f"render fresh song (FluidR3, 4 parts): {render_x:6.1f} x real time (stem seconds)")
    print(f"sampler phrase from notes:            {sampler_x:6.1f} x real time")


if __name__ == "__main__":
    main()
