"""The trainer: endless ``Example`` streams in, a model card and weights out.

``train(config, sources, eval_sets, out_dir)`` runs a fixed number of optimizer steps (the data
is endless, so epochs mean nothing), evaluates on the held-out sets every ``eval_every`` steps,
checkpoints every ``checkpoint_every`` and at the end keeps the best evaluated weights,
calibrates a threshold per class on the validation clips and writes ``NAME.pt`` + ``NAME.json``.

Loss = masked BCE on presence + ``foreground_weight`` x BCE on the role (only where the class is
present and labelled) + ``distill_weight`` x BCE towards the frozen teacher's probabilities.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from tagger.pipeline.inference import pick_device
from tagger.model.card import ModelCard
from tagger.train import checkpoint as ckpt
from tagger.train.config import ConfigError, TrainConfig
from tagger.train.example import Example, ExampleSource
from tagger.train.losses import compute_loss
from tagger.train.student import build_model, config_from_card, param_groups
from tagger.train.teacher import build_teacher, data_rate
from tagger.train.labelled import fit_length
from tagger.train.metrics import EvalReport, calibrate_thresholds, json_safe, selection_score
from tagger.train.predict import Predictions, foreground_accuracy, predict_sets, report

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainResult:
    """What a finished run produced."""

    card: ModelCard
    card_path: Path | None
    weights_path: Path | None
    step: int
    best_step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    validation: EvalReport | None = None  # with the calibrated thresholds


class ExampleStream(IterableDataset):
    """Batches-to-be from several sources, one independent random stream per DataLoader worker.

    Each worker seeds its own generators from (seed, first step, worker), so a run is repeatable
    and a resumed run draws fresh (but again repeatable) examples instead of replaying old ones.
    """

    def __init__(self, sources: Sequence[ExampleSource], window: int, seed: int, start_step: int,
                 weights: Sequence[float] | None = None):
        super().__init__()
        if not sources:
            raise ConfigError("no training data: give at least one source (--data DIR|CSV)")
        self.sources = list(sources)
        self.window = window
        self.seed = seed
        self.start_step = start_step
        w = np.asarray(weights if weights is not None else [1.0] * len(sources), dtype=np.float64)
        self.p = w / w.sum()

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        if info is not None:
            torch.set_num_threads(1)  # workers make audio; the main process owns the cores
        key = [self.seed, self.start_step, worker]
        rng = np.random.default_rng(key)
        streams = [s.examples(np.random.default_rng([*key, i])) for i, s in enumerate(self.sources)]
        while True:
            i = int(rng.choice(len(streams), p=self.p))
            try:
                ex: Example = next(streams[i])
            except StopIteration:
                raise RuntimeError(f"training source {i} ({type(self.sources[i]).__name__}) "
                                   "ran out of examples; sources must be endless") from None
            audio = fit_length(np.asarray(ex.audio, dtype=np.float32), self.window, rng)
            yield (np.ascontiguousarray(audio, dtype=np.float32),
                   np.asarray(ex.presence, np.float32), np.asarray(ex.foreground, np.float32),
                   np.asarray(ex.mask, np.float32))


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig
                   ) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up then cosine to 1 % (or one-cycle, or constant after warm-up)."""
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=config.steps,
            pct_start=min(0.3, max(config.warmup_steps / config.steps, 0.01)))
    warm = max(0, min(config.warmup_steps, config.steps // 5))
    total = config.steps

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if config.schedule == "constant":
            return 1.0
        progress = (step - warm) / max(1, total - warm)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_bn_momentum(net: nn.Module, config: TrainConfig) -> None:
    """BatchNorm running-stat momentum for this run (it is not part of the weights).

    mn04's 0.01 suits long fine-tuning of AudioSet statistics, but a short run from scratch
    would evaluate with running statistics that have barely moved from their initial values.
    """
    momentum = config.bn_momentum
    if momentum is None:
        momentum = 0.1 if config.init == "scratch" else None
    if momentum is not None:
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = momentum


def _set_train_mode(net: nn.Module, freeze_bn: bool) -> None:
    net.train()
    if freeze_bn:  # keep AudioSet's running statistics when batches are small or one-sided
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


def _score(preds: Mapping[str, Predictions], classes: Sequence[str]) -> tuple[float, dict[str, Any]]:
    """Mean selection score over eval sets (what "best" means: mAP, or top-1 for sets without
    known negatives) and the logged figures per set."""
    row: dict[str, Any] = {}
    maps, scores = [], []
    for name, pred in preds.items():
        rep = report(pred, classes)
        row[f"{name}/loss"], row[f"{name}/mAP"] = rep.loss, rep.mAP
        row[f"{name}/macro_f1"] = rep.macro_f1
        if not math.isnan(rep.top1):
            row[f"{name}/top1"] = rep.top1
        maps.append(rep.mAP)
        scores.append(selection_score(rep))
    finite = [m for m in maps if not math.isnan(m)]
    row["val_loss"] = float(np.nanmean([row[f"{n}/loss"] for n in preds])) if preds else math.nan
    row["val_mAP"] = float(np.mean(finite)) if finite else math.nan
    measured = [s for s in scores if not math.isnan(s)]
    return (float(np.mean(measured)) if measured else math.nan), row


def write_history(history: list[dict[str, Any]], path: Path) -> None:
    """All evaluation rows as CSV (columns = union of keys, in first-seen order)."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)


def train(config: TrainConfig, sources: Sequence[ExampleSource],
          eval_sets: Mapping[str, Sequence[Example]], out_dir: str | Path, *,
          resume: str | Path | None = None, on_event: Event | None = None,
          training_data: list[dict[str, Any]] | None = None, reproduce: str | None = None,
          write_model: bool = True, source_weights: Sequence[float] | None = None) -> TrainResult:
    """Train as ``config`` says; see the module docstring.

    ``on_event(kind, info)`` reports ``start``, ``step`` (every ``log_every``), ``eval``,
    ``checkpoint`` and ``done``. ``resume`` continues a checkpoint at its step. ``sources`` are
    endless ``ExampleSource``s (mixed by ``source_weights``); ``eval_sets`` are finite, named
    held-out sets. ``training_data`` and ``reproduce`` go into the card as given.
    """
    threads = torch.get_num_threads()
    if config.threads > 0:  # two busy threads on a shared 2-core box can be 10x slower than one
        torch.set_num_threads(config.threads)
    try:
        return _train(config, sources, eval_sets, Path(out_dir), resume, on_event or
                      (lambda kind, info: None), training_data, reproduce, write_model,
                      source_weights)
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, sources: Sequence[ExampleSource],
           eval_sets: Mapping[str, Sequence[Example]], out: Path, resume: str | Path | None,
           emit: Event, training_data: list[dict[str, Any]] | None, reproduce: str | None,
           write_model: bool, source_weights: Sequence[float] | None) -> TrainResult:
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] | None = ckpt.load_checkpoint(resume) if resume else None
    config.validate()
    ckpt.seed_everything(config.seed)
    device = pick_device(config.device)
    net, card = build_model(config)
    if config.init == "model":
        config = config_from_card(config, card)
    if state is not None and state["architecture"] != card.architecture:
        raise ckpt.CheckpointError("the checkpoint is from a different architecture than the config")
    set_bn_momentum(net, config)
    net.to(device)
    teacher = build_teacher(config)
    if teacher is not None:
        teacher.to(device)
    optimizer = torch.optim.AdamW(param_groups(net, config), lr=config.lr)
    scheduler = make_scheduler(optimizer, config)
    step, history, best_step, best_score = 0, [], 0, -math.inf
    best_state: dict[str, Tensor] | None = None
    if state is not None:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = int(state["step"]), list(state["history"])
        best_step, best_score, best_state = state["best_step"], state["best_score"], state["best_state"]
        ckpt.set_rng_state(state["rng"])
    config.save(out / f"{config.name}.train.json")

    rate = data_rate(config)  # the teacher's, if higher than the student's
    loader = DataLoader(ExampleStream(sources, int(round(config.window_s * rate)), config.seed,
                                      step, source_weights),
                        batch_size=config.batch_size, num_workers=config.workers,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    emit("start", {"step": step, "steps": config.steps, "device": str(device),
                   "params": sum(p.numel() for p in net.parameters())})

    def evaluate_now() -> None:
        nonlocal best_step, best_score, best_state
        preds = predict_sets(net, eval_sets, card, device=device,
                              batch_size=config.eval_batch_size, amp=config.amp)
        score, row = _score(preds, card.classes)
        if math.isnan(score):
            score = float(step)  # nothing to judge by: the latest weights are the result
        entry = {"step": step, "lr": scheduler.get_last_lr()[-1], **running, **row,
                 "steps_per_s": speed()}
        history.append(entry)
        if score > best_score or best_state is None:
            best_score, best_step = score, step
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        write_history(history, out / "history.csv")
        emit("eval", entry)

    def save() -> None:
        path = ckpt.save_checkpoint(
            out / ckpt.CHECKPOINT_DIR / ckpt.LAST, model=net.state_dict(),
            optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), step=step,
            history=history, best_step=best_step, best_score=best_score, best_state=best_state,
            config=config.to_dict(), architecture=card.architecture)
        emit("checkpoint", {"step": step, "path": str(path)})

    sums: dict[str, Tensor] = {}
    count, running = 0, {}
    started, started_step = time.perf_counter(), step

    def speed() -> float:
        return (step - started_step) / max(time.perf_counter() - started, 1e-9)

    if step == 0 and eval_sets and config.eval_at_start:
        evaluate_now()  # the baseline; if training never beats it, the start weights are kept
    _set_train_mode(net, config.freeze_bn)
    batches = iter(loader)
    while step < config.steps:
        loss, parts = compute_loss(net, teacher, next(batches), config, device, rate)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        for k, v in parts.items():
            sums[k] = sums[k] + v if k in sums else v
        count += 1
        if step % config.log_every == 0 or step == config.steps:
            running = {f"train_{k}" if k != "loss" else "train_loss": float(v) / count
                       for k, v in sums.items()}
            if not math.isfinite(running["train_loss"]):
                raise FloatingPointError(f"loss became {running['train_loss']} by step {step}; "
                                         "lower the lr (or check the data for NaN audio)")
            emit("step", {"step": step, "lr": scheduler.get_last_lr()[-1], **running,
                          "steps_per_s": speed()})
            sums, count = {}, 0
        if step % config.eval_every == 0 or step == config.steps:
            evaluate_now()
            _set_train_mode(net, config.freeze_bn)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
    del batches  # stop the workers before the (single-process) finishing work

    if best_state is not None:
        net.load_state_dict(best_state)
    result = TrainResult(card, None, None, step, best_step, history)
    finish(result, net, config, eval_sets, device, training_data, reproduce)
    if write_model:
        result.card_path, result.weights_path = ckpt.write_model(net.state_dict(), card, out)
    emit("done", {"step": step, "best_step": best_step, "card": str(result.card_path or ""),
                  "val_mAP": result.validation.mAP if result.validation else math.nan})
    return result


def finish(result: TrainResult, net: nn.Module, config: TrainConfig,
           eval_sets: Mapping[str, Sequence[Example]], device: torch.device,
           training_data: list[dict[str, Any]] | None, reproduce: str | None) -> None:
    """Calibrate thresholds on all validation clips and fill the card's record of the run."""
    card = result.card
    preds = predict_sets(net, eval_sets, card, device=device, batch_size=config.eval_batch_size,
                         amp=config.amp)
    validation: dict[str, Any] = {"best_step": result.best_step, "steps": result.step,
                                  "history": result.history}
    if preds:
        union = Predictions.concat(list(preds.values()))
        card.thresholds = calibrate_thresholds(union.probs, union.labels, union.mask, card.classes)
        rep = report(union, card.classes, card.thresholds)
        result.validation = rep
        validation.update({
            "clips": rep.clips, "mAP": rep.to_dict()["mAP"], "macro_f1": rep.to_dict()["macro_f1"],
            "foreground_accuracy": foreground_accuracy(union),
            "per_class": rep.to_dict()["per_class"],
            "sets": {name: {k: v for k, v in report(p, card.classes, card.thresholds).to_dict().items()
                            if k in ("clips", "mAP", "macro_f1", "top1", "loss")}
                     for name, p in preds.items()},
            "note": "thresholds calibrated (max F1) on these same validation clips; "
                    "figures at those thresholds are optimistic, AP is not affected",
        })
    card.validation = json_safe(validation)
    card.training_data = json_safe(training_data or [])
    card.reproduce = reproduce or f"tagger train --config {config.name}.train.json"
    init = {"audioset": "fine-tuned from EfficientAT mn04 (AudioSet, MIT) with its AudioSet rows "
                        "as the class head", "scratch": "trained from scratch",
            "model": f"fine-tuned from model {config.from_model}"}[config.init]
    teacher = f", distilled from {config.teacher}" if config.distill_weight > 0 else ""
    card.description = f"{init}{teacher}; {result.step} steps, best at step {result.best_step}"
    if config.init == "audioset" or config.teacher == "audioset":
        card.licence = card.licence or "MIT (weights derived from EfficientAT mn04_as, MIT)"
