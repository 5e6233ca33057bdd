"""``tagger train``: train or fine-tune a model, or ``--sweep`` its hyper-parameters.

Settings come from defaults, then the checkpoint (with ``--resume``), then ``--config FILE``,
then the options given here; the merged config is saved beside the model so the card's
``reproduce`` command rebuilds it. Thin over ``tagger.train.loop.train``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tagger.cli.app import app
from tagger.cli.common import (EXIT_FAILED, DbOption, QuietOption, console, err_console, fail,
                               warn)

RUNS_DIR = Path("runs")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class TrainProgress:
    """A progress bar with the running loss and the last validation mAP; one line per eval."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("train", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}", markup=False), TimeElapsedColumn(),
            console=err_console, disable=quiet)
        self.task = self.progress.add_task("train", total=None, info="")
        self.loss = self.val = ""

    def __enter__(self) -> "TrainProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "start":
            self.progress.update(self.task, total=info["steps"], completed=info["step"])
            if not self.quiet:
                self.progress.console.print(
                    f"training on {info['device']}, {info['params']:,} parameters, "
                    f"from step {info['step']} to {info['steps']}")
        elif kind == "step":
            self.loss = f"loss {info['train_loss']:.4f}  {info['steps_per_s']:.2f} steps/s"
        elif kind == "eval":
            parts = [f"step {info['step']}", f"loss {_fmt(info.get('train_loss'), 4)}",
                     f"val loss {_fmt(info.get('val_loss'), 4)}",
                     f"val mAP {_fmt(info.get('val_mAP'))}"]
            parts += [f"{k} {_fmt(v)}" for k, v in info.items() if k.endswith("/top1")]
            self.val = f"val mAP {_fmt(info.get('val_mAP'))}"
            if not self.quiet:
                self.progress.console.print("  ".join(parts), highlight=False)
        if kind in ("step", "eval"):
            self.progress.update(self.task, completed=info["step"], info=f"{self.loss}  {self.val}")



def _out_dir(out: str | None, name: str) -> tuple[Path, bool]:
    """``--out DIR`` (has a slash or exists) = run folder; ``--out NAME`` = runs/NAME + install."""
    if out is None:
        return RUNS_DIR / name, False
    if os.sep in out or "/" in out or Path(out).is_dir():
        return Path(out), False
    return RUNS_DIR / out, True


def _absolute(specs: list[str]) -> list[str]:
    """File/folder specs as absolute paths so the saved config works from any directory."""
    return [str(Path(s).expanduser().resolve()) if Path(s).expanduser().exists() else s
            for s in specs]


def _summary(result: Any, quiet: bool) -> None:
    rep = result.validation
    if rep is None:
        console.print("no validation data: thresholds left at 0.5 (pass --eval-data or more sources)")
        return
    table = Table(title=f"validation ({rep.clips} clips), thresholds calibrated for F1")
    for col in ("class", "pos", "AP", "F1", "P", "R", "threshold"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, m in rep.per_class.items():
        if m.positives or not quiet:
            table.add_row(name, str(m.positives), _fmt(m.ap), _fmt(m.f1), _fmt(m.precision),
                          _fmt(m.recall), f"{m.threshold:.2f}")
    console.print(table)
    line = f"mAP {_fmt(rep.mAP)}  macro F1 {_fmt(rep.macro_f1)}"
    if not math.isnan(rep.top1):
        line += f"  top-1 {_fmt(rep.top1)} ({rep.single_label_clips} single-label clips)"
    console.print(line)


@app.command("train")
def train_command(
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML or JSON config (keys: TrainConfig fields).")] = None,
    data: Annotated[Optional[list[str]], typer.Option("--data", help="Labelled folder (DIR/<class>/files) or CSV, or a built-in source. Repeatable.")] = None,
    eval_data: Annotated[Optional[list[str]], typer.Option("--eval-data", help="Validation folder/CSV/built-in set (default: hold out sources of --data). Repeatable.")] = None,
    from_model: Annotated[Optional[str], typer.Option("--from", help="Fine-tune this installed model (name or card path).")] = None,
    labels: Annotated[bool, typer.Option("--labels", help="Also train on your labels from `tagger label` (labels_weight of the draws; held-out tracks validate).")] = False,
    db: DbOption = None,
    init: Annotated[Optional[str], typer.Option("--init", help="audioset (mn04 + its AudioSet rows) or scratch.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Optimizer steps.")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Head learning rate (backbone: x backbone_lr_mult).")] = None,
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay")] = None,
    distill: Annotated[Optional[float], typer.Option("--distill", help="Weight of the distillation loss (0 = off).")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu or cuda.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Checkpoint file or run folder to continue.")] = None,
    out: Annotated[Optional[str], typer.Option("--out", help="Run folder (a path), or a NAME: runs/NAME, then installed into your models folder (TAGGER_MODELS_DIR, else ~/.local/share/tagger/models).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Model name (default: from config, or --out NAME).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="DataLoader workers.")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Random search of lr, weight decay, batch size with k-fold CV.")] = False,
    trials: Annotated[int, typer.Option("--trials", help="Sweep: settings to try.")] = 8,
    folds: Annotated[int, typer.Option("--folds", help="Sweep: cross-validation folds (by source).")] = 3,
    quiet: QuietOption = False,
) -> None:
    """Train a model on labelled audio and write NAME.pt + NAME.json (the model card)."""
    from tagger.config import resolve_db_path
    from tagger.model.registry import ModelNotFoundError, install_model
    from tagger.train.checkpoint import CheckpointError, load_checkpoint
    from tagger.train.config import ConfigError, TrainConfig, load_config
    from tagger.train.inputs import open_inputs
    from tagger.train.labelled import DataError
    from tagger.train.loop import train
    from tagger.train.plots import plot_confusion, plot_history, plot_per_class

    try:
        config = TrainConfig()
        state = load_checkpoint(resume) if resume else None
        if state is not None:
            config = TrainConfig.from_dict(state["config"])
        if config_file is not None:
            config = config.updated(**load_config(config_file).to_dict())
        if out is not None and "/" not in out and os.sep not in out and not Path(out).is_dir():
            name = name or out
        config = config.updated(
            data=_absolute(data) if data else None,
            eval_data=_absolute(eval_data) if eval_data else None,
            labels=labels or None, labels_db=str(resolve_db_path(db).resolve()) if db else None,
            from_model=from_model, init="model" if from_model else init, steps=steps,
            batch_size=batch_size, lr=lr, weight_decay=weight_decay, distill_weight=distill,
            device=device, seed=seed, workers=workers, eval_every=eval_every, name=name)
        if config.labels and config.labels_db is None:  # the saved config names the store used
            config = config.updated(labels_db=str(resolve_db_path(None).resolve()))
        run_dir, install = _out_dir(out, config.name)
        if resume and out is None:
            run_dir = Path(resume) if Path(resume).is_dir() else Path(resume).resolve().parents[1]
        if sweep:
            _run_sweep(config, run_dir, trials, folds, quiet)
            return
        inputs = open_inputs(config, warn=warn)
        with TrainProgress(quiet) as progress:
            result = train(config, inputs.sources, inputs.eval_sets, run_dir, resume=resume,
                           on_event=progress, training_data=inputs.records,
                           source_weights=inputs.weights,
                           reproduce=f"tagger train --config {(run_dir / f'{config.name}.train.json').resolve()}")
    except (ConfigError, DataError, CheckpointError, ModelNotFoundError, ValueError) as exc:
        fail(str(exc))
    plot_history(result.history, run_dir / "loss.png", title=config.name)
    if result.validation is not None:
        rep = result.validation
        plot_per_class({c: m.ap for c, m in rep.per_class.items()}, run_dir / "ap.png")
        if rep.confusion:
            plot_confusion(rep.confusion, rep.classes, run_dir / "confusion.png")
    _summary(result, quiet)
    console.print(f"model: {result.card_path} (weights {result.weights_path.name}); "
                  f"run files in {run_dir}", highlight=False)
    if install:
        try:
            target = install_model(result.card_path, result.weights_path)
        except ModelNotFoundError as exc:
            fail(f"{exc}; the trained model stays in {run_dir}", EXIT_FAILED)
        console.print(f"installed as {config.name!r} in {target} (use --model {config.name})",
                      highlight=False)


def _run_sweep(config: Any, run_dir: Path, trials: int, folds: int, quiet: bool) -> None:
    from tagger.train.sweep import run_sweep

    def on_event(kind: str, info: dict[str, Any]) -> None:
        if kind == "trial" and not quiet:
            err_console.print(f"trial {info['trial']}: lr {info['lr']:.2e} wd "
                              f"{info['weight_decay']:.2e} batch {info['batch_size']}: mAP "
                              f"{_fmt(info['mAP_mean'])} ± {_fmt(info['mAP_std'])}", highlight=False)

    result = run_sweep(config, run_dir, trials=trials, folds=folds, warn=warn,
                       on_event=on_event)
    table = Table(title=f"random search: {trials} trials x {folds} folds, {config.steps} steps each")
    for col in ("rank", "lr", "weight decay", "batch", "mAP mean", "± std"):
        table.add_column(col, justify="right")
    for rank, row in enumerate(result.rows, start=1):
        table.add_row(str(rank), f"{row['lr']:.2e}", f"{row['weight_decay']:.2e}",
                      str(row["batch_size"]), _fmt(row["mAP_mean"]), _fmt(row["mAP_std"]))
    console.print(table)
    console.print(f"table {result.table}, plot {result.plot}; train the best with: "
                  f"tagger train --config {result.best_config}", highlight=False)
