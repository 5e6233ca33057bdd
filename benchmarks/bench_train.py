"""Cost of training and running the trainable networks on this CPU (a script, not a test).

For mn04 with the AudioSet-row head (the fine-tuning default) and a few smaller students,
prints parameters, MACs per second of audio (counted by ``bench_model.count_macs``), training
steps per second (frontend + SpecAugment + forward + backward + AdamW, with and without the mn04
teacher for distillation) and inference speed in x real time. Data loading is left out: it
runs in DataLoader workers beside the math.

    .venv/bin/python benchmarks/bench_train.py [--threads 2] [--batch 8] [--window 10] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import count_macs  # noqa: E402

from tagger.train.config import TrainConfig  # noqa: E402
from tagger.train.student import build_model, param_groups  # noqa: E402
from tagger.train.teacher import build_teacher  # noqa: E402
from tagger.train.losses import compute_loss  # noqa: E402

# name -> TrainConfig overrides. Students run at 16 kHz with 64 mel bands (a 4x cheaper input).
VARIANTS: dict[str, dict] = {
    "mn04 32k/128 mel, AudioSet rows": {},
    "w0.2 16k/64 mel student": dict(init="scratch", head="linear", width_mult=0.2,
                                     sample_rate=16000, n_mels=64, n_fft=512, win_length=400,
                                     hop_length=160),
    "w0.1 16k/64 mel student": dict(init="scratch", head="linear", width_mult=0.1,
                                    sample_rate=16000, n_mels=64, n_fft=512, win_length=400,
                                    hop_length=160),
}


def median_time(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=float, default=10.0, help="training clip seconds")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="mn04 only, no teacher timing")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f} (other processes slow every figure below)")
    print(f"training batch {args.batch} x {args.window:g} s clips\n")
    header = (f"{'variant':34s} {'params':>8s} {'MMAC/s audio':>12s} {'steps/s':>8s} "
              f"{'+teacher':>9s} {'infer xRT':>9s}")
    print(header)
    variants = list(VARIANTS.items())[:1] if args.quick else list(VARIANTS.items())
    for name, overrides in variants:
        config = TrainConfig(window_s=args.window, hop_s=args.window, batch_size=args.batch,
                             workers=0, **overrides)
        net, _card = build_model(config)
        params = sum(p.numel() for p in net.parameters())
        macs = sum(count_macs(net.eval(), torch.zeros(1, config.sample_rate * 10)).values()) / 10
        n = config.window
        batch = (0.1 * torch.randn(args.batch, n), torch.zeros(args.batch, 14),
                 torch.zeros(args.batch, 14), torch.ones(args.batch, 14))
        opt = torch.optim.AdamW(param_groups(net, config), lr=config.lr)
        cpu = torch.device("cpu")

        def step(teacher=None) -> None:
            net.train()
            loss, _ = compute_loss(net, teacher, batch, config, cpu)
            opt.zero_grad()
            loss.backward()
            opt.step()

        rate = 1.0 / median_time(step, args.runs)
        with_teacher = "-"
        if not args.quick:
            teacher = build_teacher(config.updated(distill_weight=0.5))
            with_teacher = f"{1.0 / median_time(lambda: step(teacher), args.runs):9.3f}"
        net.eval()
        wave = 0.1 * torch.randn(16, config.sample_rate * 10)

        def infer() -> None:
            with torch.inference_mode():
                net(wave)

        xrt = 160.0 / median_time(infer, args.runs)
        print(f"{name:34s} {params / 1e6:7.3f}M {macs / 1e6:12.1f} {rate:8.3f} {with_teacher:>9s} "
              f"{xrt:9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
