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
from rich.markup import escape
from rich.table import Table

from tagger.cli.app import app
from tagger.cli.common import console, err_console, fail
from tagger.model.card import ModelCard
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
    table = Table(header_style="bold", pad_edge=False)
    table.add_column("model", no_wrap=True)
    table.add_column("classes", overflow="fold", ratio=1)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("window/hop", justify="right", no_wrap=True)
    table.add_column("validation", overflow="fold", ratio=2)
    for card in cards:
        mark = " [green](default)[/]" if default in (card.name, card.id) else ""
        table.add_row(f"{escape(card.name)} {escape(card.version)}{mark}",
                      _classes_cell(card.classes),
                      f"{card.sample_rate / 1000:g} kHz",
                      f"{card.window_s:g} s / {card.hop_s:g} s",
                      validation_summary(card.validation))
    return table


def _card_details(card: ModelCard) -> None:
    console.print(f"[bold]{escape(card.name)}[/] {escape(card.version)}  ({escape(card.id)})",
                  highlight=False)
    if card.description:
        console.print(card.description, highlight=False, markup=False)
    console.print(f"sample rate {card.sample_rate} Hz, window {card.window_s:g} s, hop "
                  f"{card.hop_s:g} s, role from {card.role_method}", highlight=False, markup=False)
    fe = card.frontend
    console.print(f"frontend: {fe.n_mels} mels, n_fft {fe.n_fft}, win {fe.win_length}, hop "
                  f"{fe.hop_length}, {fe.f_min:g}-{fe.f_max or 'nyquist'} Hz", highlight=False, markup=False)
    table = Table(header_style="bold", pad_edge=False)
    table.add_column("class")
    table.add_column("threshold", justify="right")
    per_class = next((v for v in card.validation.values() if isinstance(v, dict)
                      and any(k in card.classes for k in v)), {})
    metrics = sorted({m for v in per_class.values() if isinstance(v, dict) for m in _numbers(v)})
    for metric in metrics:
        table.add_column(metric, justify="right")
    for cls in card.classes:
        figures = _numbers(per_class.get(cls, {})) if isinstance(per_class.get(cls), dict) else {}
        table.add_row(cls, f"{card.threshold(cls):.2f}",
                      *[f"{figures[m]:.3f}" if m in figures else "" for m in metrics])
    console.print(table)
    plain = {"highlight": False, "markup": False}
    console.print(f"validation: {validation_summary(card.validation, limit=12)}", **plain)
    for source in card.training_data:
        licence = source.get("licence") or source.get("license") or "licence ?"
        console.print(f"training data: {source.get('name', '?')} ({licence})", **plain)
    if card.licence:
        console.print(f"licence: {card.licence}", highlight=False, markup=False)
    if card.reproduce:
        console.print(f"reproduce: {card.reproduce}", highlight=False, markup=False)


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
        err_console.print(f"no models installed in {registry.models_dir()}"
                          " (a model is NAME.json + NAME.pt; set TAGGER_MODELS_DIR to look elsewhere)",
                          highlight=False)
        return
    console.print(_card_table(cards, registry.default_model_name()))
    console.print(f"[dim]{len(cards)} model{'s' * (len(cards) != 1)} in {escape(str(registry.models_dir()))};"
                  " `tagger models NAME` shows one card[/]", highlight=False)
