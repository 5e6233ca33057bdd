"""How many times real time the PyTorch YamNet runs on one CPU thread (batch 8 of 5-s clips).

Why: YAMNet is meant as a teacher over whole libraries, so its CPU cost per audio second
decides whether pseudo-labelling is practical. Prints the median of 3 timed runs.
Usage: python benchmarks/bench_yamnet.py [path/to/yamnet.tflite]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

from tagger.model.yamnet import SAMPLE_RATE, load_yamnet

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "pretrained" / "yamnet.tflite"


def main() -> None:
    torch.set_num_threads(1)
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    wave = 0.1 * torch.randn(8, 5 * SAMPLE_RATE, generator=torch.Generator().manual_seed(0))
    for mode in (False, "xnnpack"):
        net = load_yamnet(path, emulate_hybrid=mode)
        times = []
        with torch.inference_mode():
            net(wave)  # warm-up
            for _ in range(3):
                t0 = time.perf_counter()
                net(wave)
                times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        print(f"emulate_hybrid={mode!s:8} {median * 1000:7.1f} ms per batch, "
              f"{8 * 5 / median:6.1f}x real time (1 thread, batch 8 x 5 s)")


if __name__ == "__main__":
    main()
