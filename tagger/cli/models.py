"""``tagger models [NAME]``: the installed models (``models/*.json`` cards) and what they claim.

Discovery is :mod:`tagger.model.registry`'s; this only formats. The registry is imported inside
the command because it imports torch, which no other read-only command should pay for.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.console import Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from tagger.cli.app import app
from tagger.cli.common import console, err_console, fail, styled
from tagger.model.card import ModelCard
from tagger.printable import printable
from tagger.taxonomy import CLASSES


def _numbers(data: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in data.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


# Numbers in a card's validation that describe the run, not how well the model does.
BOOKKEEPING = frozenset({"best_step", "steps", "clips", "seed", "window_s", "hop_s"})
# Per-class figures whose mean says nothing about the model: clip counts, and the training
# run's own thresholds (the card's, the ones a scan uses, are shown by `tagger models NAME`).
NOT_AVERAGED = frozenset({"threshold", "positives", "negatives", "clips"})


def validation_summary(validation: dict[str, Any], *, limit: int = 4) -> str:
    """A one-line digest of a card's validation figures, whatever their nesting.

    Cards record figures as ``{"mAP": 0.8}``, ``{"macro": {"f1": 0.7}}`` or per class
    ``{"per_class": {"sax": {"ap": 0.9}, ...}}``; top-level numbers are shown as they are,
    a dict of numbers as ``name metric``, and a dict of per-class dicts as class means.
    """
    real = validation.get("realdev")
    if isinstance(real, dict) and "mAP" in real:  # the benchmark models are judged on
        held = real.get("presence_cross_validated") or {}
        return (f"realdev mAP {real['mAP']:.3g}, top-1 {real.get('top1_single', 0):.3g}, "
                f"reported P/R {held.get('precision', 0):.2f}/{held.get('recall', 0):.2f}")
    parts: list[str] = [f"{k} {v:.3g}" for k, v in _numbers(validation).items()
                        if k not in BOOKKEEPING]
    for key, value in validation.items():
        if not isinstance(value, dict) or not value:
            continue
        nums = _numbers(value)
        if nums:
            parts += [f"{key} {k} {v:.3g}" for k, v in nums.items()]
            continue
        rows = [_numbers(v) for v in value.values() if isinstance(v, dict)]
        metrics = sorted({m for r in rows for m in r} - NOT_AVERAGED)
        noun = "classes" if key == "per_class" or set(value) <= set(CLASSES) else key  # "3 sets"
        for metric in metrics:
            vals = [r[metric] for r in rows if metric in r]
            if vals:
                parts.append(f"mean {metric} {sum(vals) / len(vals):.3g} over {len(vals)} {noun}")
    if not parts:
        return "-"
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


def _classes_cell(classes: list[str]) -> str:
    """``14``, ``16 (+brass, woodwind)`` or ``12 (no flute, clarinet)`` against the taxonomy."""
    extra = [c for c in classes if c not in CLASSES]
    missing = [c for c in CLASSES if c not in classes]
    notes = ([f"+{', '.join(extra)}"] if extra else []) + ([f"no {', '.join(missing)}"] if missing else [])
    return f"{len(classes)}" + (f" ({'; '.join(notes)})" if notes else "")


LIST_HEADERS = ("model", "classes", "rate", "window/hop", "validation")
COLUMN_GAP = 3  # a SIMPLE_HEAD table puts padding, a space and padding between columns


def _card_rows(cards: list[ModelCard], default: str | None) -> list[list[str]]:
    """The list's cells as text; the default is marked on a line of its own in the name cell,
    so the name column stays as narrow as the longest ``name version``."""
    return [[f"{card.name} {card.version}" + ("\n(default)" if default in (card.name, card.id)
                                               else ""),
             _classes_cell(card.classes), f"{card.sample_rate / 1000:g} kHz",
             f"{card.window_s:g} s / {card.hop_s:g} s", validation_summary(card.validation)]
            for card in cards]


def _narrowest(rows: list[list[str]], headers: tuple[str, ...], *, no_wrap: set[int]) -> int:
    """The width a table of these cells needs so that no word (or unwrappable cell) breaks."""
    widths = []
    for k, header in enumerate(headers):
        cells = [header] + [row[k] for row in rows]
        pieces = [line for c in cells for line in c.split("\n")]
        if k not in no_wrap:
            pieces = [word for piece in pieces for word in piece.split()]
        widths.append(max(len(p) for p in pieces))
    return sum(widths) + COLUMN_GAP * (len(headers) - 1)


def _card_table(rows: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column(LIST_HEADERS[0], no_wrap=True)
    table.add_column(LIST_HEADERS[1], ratio=1)
    table.add_column(LIST_HEADERS[2], justify="right", no_wrap=True)
    table.add_column(LIST_HEADERS[3], justify="right", no_wrap=True)
    table.add_column(LIST_HEADERS[4], ratio=3)
    for name, *rest in rows:
        cell = Text(name.split("\n")[0])
        if "\n" in name:
            cell.append("\n" + name.split("\n", 1)[1], style="green")
        table.add_row(cell, *rest)
    return table


def _card_blocks(cards: list[ModelCard], default: str | None) -> Group:
    """The list as one block per model, for terminals too narrow for the table's words."""
    blocks: list[Text] = []
    for card in cards:
        block = Text(f"{card.name} {card.version}", style="bold")
        if default in (card.name, card.id):
            block.append(" (default)", style="green")
        block.append(f"\n  classes {_classes_cell(card.classes)}; {card.sample_rate / 1000:g} kHz;"
                     f" window/hop {card.window_s:g} s / {card.hop_s:g} s")
        block.append(f"\n  validation: {validation_summary(card.validation)}")
        blocks.append(block)
    return Group(*blocks)


def _card_list(cards: list[ModelCard], default: str | None) -> Table | Group:
    """The table when every word of it fits the terminal, else a block per model."""
    rows = _card_rows(cards, default)
    if _narrowest(rows, LIST_HEADERS, no_wrap={0, 2, 3}) <= console.width:
        return _card_table(rows)
    return _card_blocks(cards, default)


# Short headers for the per-class table when the full ones do not fit the terminal.
SHORT_HEADERS = {"threshold": "thr", "precision": "prec", "recall": "rec", "positives": "pos",
                 "negatives": "neg"}
# The order figures are shown in; others follow alphabetically.
METRIC_ORDER = ("ap", "auc", "precision", "recall", "f1", "positives", "negatives")


def _per_class_figures(card: ModelCard) -> tuple[dict[str, dict[str, float]], list[str]]:
    """The card's per-class validation figures and the metrics to show. A ``threshold`` figure
    (the training run's own) is left out: the table's one threshold column is the card's,
    the one a scan uses."""
    per_class = next((v for v in card.validation.values() if isinstance(v, dict)
                      and any(k in card.classes for k in v)), {})
    figures = {cls: _numbers(v) for cls, v in per_class.items() if isinstance(v, dict)}
    found = {m for f in figures.values() for m in f} - {"threshold"}
    metrics = [m for m in METRIC_ORDER if m in found] + sorted(found - set(METRIC_ORDER))
    return figures, metrics


def _format_figure(values: list[float], value: float) -> str:
    """Counts as integers (``475``), other figures with three decimals (``0.778``)."""
    if all(v.is_integer() for v in values):
        return f"{int(value):d}"
    return f"{value:.3f}"


def _class_table(card: ModelCard, *, short: bool) -> Table:
    figures, metrics = _per_class_figures(card)
    head = (lambda h: SHORT_HEADERS.get(h, h)) if short else (lambda h: h)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("class", no_wrap=True)
    table.add_column(head("threshold"), justify="right", no_wrap=True)
    for metric in metrics:
        table.add_column(head(metric), justify="right", no_wrap=True)
    column = {m: [f[m] for f in figures.values() if m in f] for m in metrics}
    for cls in card.classes:
        mine = figures.get(cls, {})
        table.add_row(cls, f"{card.threshold(cls):.2f}",
                      *[_format_figure(column[m], mine[m]) if m in mine else "" for m in metrics])
    return table


def _fits(table: Table) -> bool:
    unbounded = console.options.update_width(10_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def _card_details(card: ModelCard) -> None:
    console.print(styled((card.name, "bold"), f" {card.version}  ({card.id})"))
    if card.description:
        console.print(card.description)
    console.print(f"sample rate {card.sample_rate} Hz, window {card.window_s:g} s, hop "
                  f"{card.hop_s:g} s, role from {card.role_method}")
    fe = card.frontend
    console.print(f"frontend: {fe.n_mels} mels, n_fft {fe.n_fft}, win {fe.win_length}, hop "
                  f"{fe.hop_length}, {fe.f_min:g}-{fe.f_max or 'nyquist'} Hz")
    table = _class_table(card, short=False)
    short = not _fits(table)
    console.print(_class_table(card, short=True) if short else table)
    _, metrics = _per_class_figures(card)
    names = "thr" if short else "threshold"
    legend = f"{names}: the card's threshold (what a scan uses)"
    if metrics:
        legend += "; the other columns: the card's validation figures per class"
        used = [f"{SHORT_HEADERS[m]} = {m}" for m in metrics if short and m in SHORT_HEADERS]
        legend += f" ({', '.join(used)})" if used else ""
    console.print(legend, style="dim")
    console.print(f"validation: {validation_summary(card.validation, limit=12)}")
    for source in card.training_data:
        licence = source.get("licence") or source.get("license") or "licence ?"
        console.print(f"training data: {source.get('name', '?')} ({licence})")
    if card.licence:
        console.print(f"licence: {card.licence}")
    if card.reproduce:
        console.print(f"reproduce: {card.reproduce}")


@app.command("models")
def models_command(
    name: Annotated[Optional[str], typer.Argument(
        help="Show this model's whole card (name, name-version or path).",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The cards as JSON.")] = False,
) -> None:
    """List the installed models and their cards (what `--model` can pick)."""
    from tagger.model import registry

    if name is not None:
        try:
            card = ModelCard.load(registry.find_card(name))
        except registry.ModelNotFoundError as exc:
            fail(str(exc))
        except (ValueError, TypeError, KeyError, OSError) as exc:
            fail(f"cannot read the card of {name!r}: {exc}")
        if as_json:
            sys.stdout.write(json.dumps(card.to_dict(), ensure_ascii=False, indent=2) + "\n")
        else:
            _card_details(card)
        return
    cards = registry.list_models()
    if as_json:
        sys.stdout.write(json.dumps([c.to_dict() for c in cards], ensure_ascii=False, indent=2) + "\n")
        return
    if not cards:
        where = " or ".join(str(folder) for folder in registry.model_dirs())
        err_console.print(f"no models installed in {printable(where)}"
                          " (a model is NAME.json + NAME.pt; set TAGGER_MODELS_DIR to look"
                          " elsewhere)")
        return
    console.print(_card_list(cards, registry.default_model_name()))
    console.print(f"{len(cards)} model{'s' * (len(cards) != 1)} in"
                  f" {printable(' and '.join(str(d) for d in registry.model_dirs() if d.is_dir()))};"
                  " `tagger models NAME` shows one card",
                  style="dim")
