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
        metrics = sorted({m for r in rows for m in r})
        for metric in metrics:
            vals = [r[metric] for r in rows if metric in r]
            if vals:
                parts.append(f"mean {metric} {sum(vals) / len(vals):.3g} over {len(vals)} classes")
    if not parts:
        return "-"
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


def _classes_cell(classes: list[str]) -> str:
    """``14``, ``16 (+brass, woodwind)`` or ``12 (no flute, clarinet)`` against the taxonomy."""
    extra = [c for c in classes if c not in CLASSES]
    missing = [c for c in CLASSES if c not in classes]
    notes = ([f"+{', '.join(extra)}"] if extra else []) + ([f"no {', '.join(missing)}"] if missing else [])
    return f"{len(classes)}" + (f" ({'; '.join(notes)})" if notes else "")


def _card_table(cards: list[ModelCard], default: str | None) -> Table:
    """One row per model; the default is marked on a line of its own inside the name cell, so
    the name column stays as narrow as the longest ``name version``."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("model", no_wrap=True)
    table.add_column("classes", ratio=1)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("window/hop", justify="right", no_wrap=True)
    table.add_column("validation", ratio=3)
    for card in cards:
        name = Text(f"{card.name} {card.version}")
        if default in (card.name, card.id):
            name.append("\n(default)", style="green")
        table.add_row(name, _classes_cell(card.classes), f"{card.sample_rate / 1000:g} kHz",
                      f"{card.window_s:g} s / {card.hop_s:g} s",
                      validation_summary(card.validation))
    return table


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
        err_console.print(f"no models installed in {printable(str(registry.models_dir()))}"
                          " (a model is NAME.json + NAME.pt; set TAGGER_MODELS_DIR to look"
                          " elsewhere)")
        return
    console.print(_card_table(cards, registry.default_model_name()))
    console.print(f"{len(cards)} model{'s' * (len(cards) != 1)} in"
                  f" {printable(str(registry.models_dir()))}; `tagger models NAME` shows one card",
                  style="dim")
