"""``tagger train --sweep``: random search over lr, weight decay and batch size, k-fold CV.

Random search rather than a grid because only a few of the knobs matter much and a grid spends
most trials varying the ones that do not (Bergstra & Bengio, 2012). Folds split the labelled
data *by source* (``labelled.source_folds``), so a score says how a setting does on recordings
it never trained on. Each (trial, fold) is an ordinary ``train()`` run with a single evaluation
at its last step, so no checkpoint is picked on the fold it is scored on. A fold's score is its
mAP, or top-1 where class folders alone give no known negatives (``metrics.selection_score``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger.train.config import ConfigError, TrainConfig
from tagger.train.teacher import data_rate, resample
from tagger.train.labelled import ClipSource, DataError, Warn, decode_files, read_labelled, source_folds
from tagger.train.loop import train
from tagger.train.metrics import selection_score
from tagger.train.plots import plot_sweep

SweepEvent = Callable[[str, dict[str, Any]], None]


@dataclass
class SearchSpace:
    """Ranges to sample: log-uniform for lr and weight decay, uniform choice of batch size."""

    lr: tuple[float, float] = (1e-4, 3e-3)
    weight_decay: tuple[float, float] = (1e-4, 1e-1)
    batch_sizes: tuple[int, ...] = (16, 32, 64)

    def sample(self, n: int, seed: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng([seed, 1729])

        def log_uniform(lo: float, hi: float) -> float:
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

        return [{"lr": round(log_uniform(*self.lr), 8),
                 "weight_decay": round(log_uniform(*self.weight_decay), 8),
                 "batch_size": int(rng.choice(self.batch_sizes))} for _ in range(n)]


@dataclass
class SweepResult:
    """One row per trial (best first), the best config and the files written."""

    rows: list[dict[str, Any]]
    best: TrainConfig
    table: Path
    plot: Path
    best_config: Path
    folds: list[list[int]] = field(default_factory=list)


def _stats(scores: Sequence[float]) -> tuple[float, float]:
    finite = [s for s in scores if not math.isnan(s)]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite))


def run_sweep(config: TrainConfig, out_dir: str | Path, *, trials: int, folds: int,
              space: SearchSpace | None = None, warn: Warn = print,
              on_event: SweepEvent | None = None) -> SweepResult:
    """Run ``trials`` x ``folds`` short trainings on ``config.data`` and rank the settings."""
    emit = on_event or (lambda kind, info: None)
    if trials < 1 or folds < 2:
        raise ConfigError("a sweep needs --trials >= 1 and --folds >= 2")
    if config.labels:  # refuse rather than silently leave the person's labels out
        raise ConfigError("--sweep folds whole files by source and cannot use --labels (clips of "
                          "tracks in a store); sweep on --data, then train with --labels")
    if not config.data:
        raise DataError("--sweep needs labelled data: --data DIR|CSV")
    files = []
    for spec in config.data:
        if not Path(spec).expanduser().exists():
            raise DataError(f"--sweep folds labelled folders/CSVs by source; {spec!r} is not one "
                            "(built-in streams keep fixed held-out sources: use --eval-data)")
        files += read_labelled(spec, config.classes)
    rate = data_rate(config)  # the teacher's rate if higher: training clips are made at it
    clips = decode_files(files, rate, warn=warn)
    if not clips:
        raise DataError("no clip could be decoded for the sweep")
    at_student_rate = clips if rate == config.sample_rate else [
        replace(c, audio=resample(torch.from_numpy(c.audio)[None], rate, config.sample_rate)[0].numpy())
        for c in clips]
    split = source_folds(clips, folds, config.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = (space or SearchSpace()).sample(trials, config.seed)
    rows: list[dict[str, Any]] = []
    for t, setting in enumerate(settings):
        scores = []
        for f, held in enumerate(split):
            held_set = set(held)
            fold_train = [c for i, c in enumerate(clips) if i not in held_set]
            fold_val = [at_student_rate[i] for i in held]
            # One evaluation, at the end: picking a checkpoint on the fold would flatter it.
            run_cfg = config.updated(**setting, eval_every=config.steps, eval_at_start=False,
                                     checkpoint_every=config.steps, name=f"trial{t}-fold{f}")
            emit("fold", {"trial": t, "fold": f, **setting})
            result = train(run_cfg, [ClipSource(fold_train, int(round(config.window_s * rate)))],
                           {"fold": fold_val},
                           out / f"trial{t:02d}" / f"fold{f}", write_model=False)
            score = selection_score(result.validation) if result.validation else math.nan
            scores.append(score)
            emit("fold_done", {"trial": t, "fold": f, "mAP": score})
        mean, std = _stats(scores)
        row = {"trial": t, **setting, "mAP_mean": mean, "mAP_std": std,
               **{f"fold{f}": s for f, s in enumerate(scores)}}
        rows.append(row)
        emit("trial", row)
    rows.sort(key=lambda r: -r["mAP_mean"] if not math.isnan(r["mAP_mean"]) else math.inf)
    best_setting = {k: rows[0][k] for k in ("lr", "weight_decay", "batch_size")}
    best = config.updated(**best_setting)
    table = out / "sweep.csv"
    with open(table, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot = plot_sweep(rows, out / "sweep.png")
    best_config = best.save(out / "best.train.json")
    return SweepResult(rows, best, table, plot, best_config, split)
