"""Speed of the network alone (log-mel frontend + CNN) on CPU, no decoding.

Prints x-real-time (seconds of audio per second of wall time; median of several runs) for batch
sizes and window lengths, parameters and multiply-accumulates per second of audio (counted with
forward hooks on every conv and linear layer, plus the mel matmul), and which cheap inference
tricks help.

    .venv/bin/python benchmarks/bench_model.py [--model tagger-as] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tagger.model.network import optimize_for_inference  # noqa: E402
from tagger.model.registry import load_model  # noqa: E402


def count_macs(model: nn.Module, wave: torch.Tensor) -> dict[str, int]:
    """MACs of one forward pass by layer kind, from output shapes seen by forward hooks."""
    totals = {"conv": 0, "depthwise_conv": 0, "linear": 0}

    def conv_hook(mod: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        per_out = (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        kind = "depthwise_conv" if mod.groups > 1 else "conv"
        totals[kind] += out.numel() * per_out

    def linear_hook(mod: nn.Linear, _inp: tuple, out: torch.Tensor) -> None:
        totals["linear"] += out.numel() * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    with torch.inference_mode():
        spec = model.frontend(wave)
        model.forward_spec(spec)
    for h in handles:
        h.remove()
    # The mel filterbank runs block-banded (each group of filters on the bins it touches).
    per_frame = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in model.frontend.mel_blocks)
    totals["mel_matmul"] = per_frame * spec.shape[-1] * wave.shape[0]
    return totals


def time_runs(fn: Callable[[], object], *, runs: int, warmup: int = 1) -> list[float]:
    """Wall seconds of each of ``runs`` calls of ``fn`` after warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def xrt(model: nn.Module, batch: int, seconds: float, sr: int, *, runs: int) -> tuple[float, float]:
    """(median, best) x-real-time of frontend + CNN on a random batch."""
    wave = torch.randn(batch, int(seconds * sr)) * 0.1

    def run() -> None:
        with torch.inference_mode():
            model(wave)

    times = time_runs(run, runs=runs)
    return batch * seconds / statistics.median(times), batch * seconds / min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer configurations")
    ap.add_argument("--compile", action="store_true", help="also try torch.compile (slow start)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, card = load_model(args.model)
    sr = card.sample_rate
    params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, torch.zeros(1, int(10 * sr)))
    per_s = {k: v / 10 for k, v in macs.items()}
    print(f"model {card.id}: {params / 1e6:.3f} M parameters, torch threads {args.threads}")
    print("MACs per second of audio: " + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in per_s.items())
          + f", total {sum(per_s.values()) / 1e6:.1f} M")

    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes share these cores)")
    batches = (1, 8) if args.quick else (1, 8, 32)
    windows = (5.0, 10.0) if args.quick else (2.5, 5.0, 10.0)
    fast = optimize_for_inference(model)
    for label, net in (("eager", model),
                       ("optimize_for_inference() (folded BN, channels_last)", fast)):
        print(f"\nx real time, {label}, frontend + CNN: median of runs (best run)")
        for seconds in windows:
            cells = [f"b{b}: {m:5.0f}x ({best:5.0f}x)" for b in batches
                     for m, best in [xrt(net, b, seconds, sr, runs=args.runs)]]
            print(f"  window {seconds:4.1f} s   " + "   ".join(cells))

    print("\nvariants at window 5 s, batch 8 (rounds interleaved so load spikes hit all alike):")
    wave = torch.randn(8, int(5 * sr)) * 0.1
    folded = optimize_for_inference(model, channels_last=False)
    folded_cl = optimize_for_inference(model)

    def plain(net: nn.Module, ctx: Callable = torch.inference_mode) -> Callable[[], object]:
        def run() -> object:
            with ctx():
                return net(wave)
        return run

    def frontend_only() -> object:
        with torch.inference_mode():
            return model.frontend(wave)

    variants: dict[str, Callable[[], object]] = {
        "eager, inference_mode (baseline)": plain(model),
        "eager, no_grad": plain(model, torch.no_grad),
        "BatchNorm folded": plain(folded),
        "BatchNorm folded + channels_last": plain(folded_cl),
        "frontend alone": frontend_only,
    }
    if args.compile:
        for label, cl in (("folded + torch.compile", False),
                          ("folded + channels_last + compile", True)):
            try:
                started = time.perf_counter()
                compiled = optimize_for_inference(model, channels_last=cl, compile=True)
                with torch.inference_mode():
                    compiled(wave)  # compile outside the timing
                print(f"  ({label}: {time.perf_counter() - started:.0f} s to compile)")
                variants[label] = plain(compiled)
            except Exception as exc:  # noqa: BLE001 - report, do not fail the benchmark
                print(f"  {label} failed: {type(exc).__name__}: {exc}".splitlines()[0])
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, fn in variants.items():
            samples[name].extend(8 * 5.0 / t for t in time_runs(fn, runs=2))
    base = statistics.median(samples["eager, inference_mode (baseline)"])
    for name, values in samples.items():
        value = statistics.median(values)
        print(f"  {name:34s} {value:6.0f}x  best {max(values):6.0f}x  "
              f"({value / base:4.2f} of baseline)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
