"""``tagger eval MODEL realdev`` and ``tagger eval MODEL examples``: the two benchmarks a model
is judged on (tagger.realdev.bench), printed as tables that fit 80 columns."""

from __future__ import annotations

import json
import math

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tagger.cli.common import console


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def print_realdev(res: dict) -> None:
    table = Table(title=f"{res['model']} on realdev ({res['items']} real items)")
    for col in ("class", "AP", "reported P", "reported R", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, ap in res["ap"].items():
        row = res["presence"]["per_class"][name]
        table.add_row(name, _fmt(ap), _fmt(row["precision"]), _fmt(row["recall"]),
                      str(row["tp"]), str(row["fp"]), str(row["fn"]))
    console.print(table)
    pres = res["presence"]
    console.print(
        f"mAP {_fmt(res['mAP'])}  mixtures mAP {_fmt(res['mixtures_mAP'])}  top-1 "
        f"{_fmt(res['top1_single'])} ({res['single_items']} single-instrument items), solo "
        f"{_fmt(res['top1_solo'])}\nreported instruments: precision "
        f"{_fmt(pres['precision'])}, recall {_fmt(pres['recall'])} (at the card's decisions)",
        highlight=False)
    curve = res.get("cross_validated_pr_curve")
    if curve:
        points = "  ".join(f"{c['precision']:.2f}/{c['recall']:.2f}" for c in curve)
        console.print(f"re-fitted thresholds, cross-validated by source (P/R): {points}",
                      highlight=False)


def example_rows(track: dict) -> list[tuple[str, str]]:
    """A track's answer as (label, value) lines, empty ones left out: what the scan reported,
    which of that is wrong, what it missed, and its lead (with the true one when it differs)."""
    lead = track["lead"] or "-"
    if track["lead"] != track["true_lead"]:
        lead += f" (is {track['true_lead'] or '-'})"
    rows = [(label, ", ".join(track[key])) for label, key in
            (("reported", "reported"), ("wrong", "wrong"), ("missed", "missed"))]
    return [(label, value) for label, value in rows if value] + [("lead", lead)]


def print_examples(res: dict, out: Console = console) -> None:
    """A block per track (name, then its answer lines indented): instrument names never break
    at 80 columns, where a five-column table cut them and the track names in half."""
    out.print(f"{res['model']} on examples/library", highlight=False)
    for name, track in res["tracks"].items():
        out.print(Text(name, style="bold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, min_width=10)
        grid.add_column()
        for label, value in example_rows(track):
            grid.add_row(f"  {label}", Text(value, style="red" if label == "wrong" else ""))
        out.print(grid)
    out.print(f"precision {_fmt(res['precision'])}  recall {_fmt(res['recall'])}  "
                  f"({res['right']} right, {res['wrong']} wrong, {res['missed']} missed)  "
                  f"lead {_fmt(res['lead_accuracy'])}  scan {res['x_realtime']}x real time",
                  highlight=False)


def run_benchmark(model: str, name: str, *, device: str, as_json: bool, warn) -> None:
    from tagger.realdev.bench import run_examples, run_realdev

    if name == "realdev":
        res = run_realdev(model, device=device, warn=warn)
        printer = print_realdev
    else:
        res = run_examples(model, device=device)
        printer = print_examples
    if as_json:
        typer.echo(json.dumps(res, indent=2))
    else:
        printer(res)
