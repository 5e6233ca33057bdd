"""``tagger eval MODEL DATA``: how well a model does on labelled audio.

Scores each clip as a scan would (the card's windows, max over windows) and reports per-class
precision, recall and F1 at the card's thresholds, AP and ROC-AUC, their means, and for
single-label data (one instrument per clip) top-1 accuracy and a confusion matrix. DATA
``labels`` is the human labels in the store (``--db``): each labelled clip is scored whole and
only the instruments labelled in it count (the others are unknown, not absent).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from tagger.cli.app import app
from tagger.cli.common import DbOption, QuietOption, console, fail
from tagger.cli.common import warn as print_warning


def _fmt(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def _print_report(rep: Any, fg_acc: float, title: str) -> None:
    table = Table(title=title)
    for col in ("class", "pos", "neg", "AP", "AUC", "P", "R", "F1", "threshold"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, m in rep.per_class.items():
        if m.positives + m.negatives == 0:
            continue
        table.add_row(name, str(m.positives), str(m.negatives), _fmt(m.ap), _fmt(m.auc),
                      _fmt(m.precision), _fmt(m.recall), _fmt(m.f1), f"{m.threshold:.2f}")
    console.print(table)
    line = f"mAP {_fmt(rep.mAP)}  macro F1 {_fmt(rep.macro_f1)}  clips {rep.clips}"
    if not math.isnan(fg_acc):
        line += f"  role accuracy {_fmt(fg_acc)}"
    console.print(line, highlight=False)
    if rep.confusion:
        console.print(f"top-1 {_fmt(rep.top1)} over {rep.single_label_clips} single-label clips",
                      highlight=False)
        used = [i for i in range(len(rep.classes))
                if any(rep.confusion[i]) or any(row[i] for row in rep.confusion)]
        matrix = Table(title="confusion (rows: true, columns: predicted top-1)",
                       box=box.SIMPLE, padding=(0, 0), show_edge=False)
        matrix.add_column("true", no_wrap=True)
        for j in used:  # 3-letter headers keep all 14 classes inside 80 columns
            matrix.add_column(f" {rep.classes[j][:3]}", justify="right", no_wrap=True)
        for i in used:
            matrix.add_row(rep.classes[i], *[str(rep.confusion[i][j] or ".") for j in used])
        console.print(matrix)


@app.command("eval")
def eval_command(
    model: Annotated[str, typer.Argument(help="Model name or card path.")],
    data: Annotated[str, typer.Argument(help="'realdev' (real music, ../shared/data/real), 'examples' (scan examples/library, judge by ANSWERS.json), a labelled folder (DIR/<class>/files), a labels CSV, 'labels' (your labels from `tagger label`), or a built-in eval set.")],
    db: DbOption = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write PNG plots into this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Windows per batch.")] = 32,
    quiet: QuietOption = False,
) -> None:
    """Per-class precision, recall, F1 and AP of MODEL on labelled DATA (+ plots)."""
    from tagger.pipeline.inference import pick_device
    from tagger.model.registry import ModelNotFoundError, load_model
    from tagger.train.inputs import load_eval_set
    from tagger.train.labelled import DataError
    from tagger.train.predict import foreground_accuracy, predict, report

    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        if not quiet:
            print_warning(message)

    from tagger.realdev.bench import BENCHMARKS

    if data in BENCHMARKS:
        from tagger.cli.eval_bench import run_benchmark

        try:
            run_benchmark(model, data, device=str(pick_device(device)), as_json=as_json,
                          warn=warn)
        except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        return
    try:
        dev = pick_device(device)
        net, card = load_model(model, device=dev)
        clips = load_eval_set(data, card.classes, card.sample_rate, card.window_s, warn=warn,
                              db=db)
    except (ModelNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))
    pred = predict(net, clips, card, device=dev, batch_size=batch_size)
    rep = report(pred, card.classes, card.thresholds)
    fg_acc = foreground_accuracy(pred)
    written: list[str] = []
    if plots is not None:
        written = _plots(rep, card, plots)
    if as_json:
        doc = {"model": card.id, "data": data, **rep.to_dict(),
               "foreground_accuracy": None if math.isnan(fg_acc) else round(fg_acc, 6),
               "skipped": warnings, "plots": written}
        typer.echo(json.dumps(doc, indent=2))
        return
    _print_report(rep, fg_acc, f"{card.id} on {data}")
    if written:
        console.print("plots: " + ", ".join(written), highlight=False)


def _plots(rep: Any, card: Any, folder: Path) -> list[str]:
    from tagger.train.plots import plot_confusion, plot_history, plot_per_class

    out = [plot_per_class({c: m.ap for c, m in rep.per_class.items()}, folder / "ap.png",
                          title=f"per-class AP, {card.id}")]
    if rep.confusion:
        out.append(plot_confusion(rep.confusion, rep.classes, folder / "confusion.png",
                                  title=f"confusion, {card.id}"))
    history = (card.validation or {}).get("history") or []
    if history:  # the training run's curves, kept in the card
        out.append(plot_history(history, folder / "loss.png", title=f"training of {card.id}"))
    return [str(p) for p in out]
