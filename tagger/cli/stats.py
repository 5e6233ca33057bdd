"""``tagger stats``: a summary of the store (tracks, hours, errors, instruments, models)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from tagger.cli.app import app
from tagger.cli.common import DbOption, QuietOption, console, plural, store_session, styled
from tagger.printable import printable
from tagger.store.stats import StoreStats, store_stats


def format_hours(hours: float) -> str:
    """``0.1375`` -> ``8.2 min``; ``3.21`` -> ``3.21 h``; ``12.04`` -> ``12.0 h``;
    ``1234.5`` -> ``1,234 h``."""
    if hours < 1:
        return f"{hours * 60:.1f} min"
    if hours >= 100:
        return f"{hours:,.0f} h"
    return f"{hours:.1f} h" if hours >= 10 else f"{hours:.2f} h"


def _instrument_table(stats: StoreStats) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("instrument", no_wrap=True)
    table.add_column("tracks", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("leads in", justify="right", no_wrap=True)
    table.add_column("playing", justify="right", no_wrap=True)
    for inst in stats.instruments:
        share = inst.tracks / stats.ok if stats.ok else 0.0
        table.add_row(inst.instrument, f"{inst.tracks:,}", f"{share:.0%}", f"{inst.lead_tracks:,}",
                      format_hours(inst.hours))
    return table


def print_stats(stats: StoreStats, db_path: str) -> None:
    field = lambda name: (f"{name:<10} ", "dim")  # noqa: E731
    console.print(styled(field("store"), printable(db_path)), soft_wrap=True)
    console.print(styled(field("tracks"), f"{stats.tracks:,} ({stats.ok:,} analysed)"))
    if stats.errors:
        console.print(styled(field("errors"), f"{stats.errors:,} ",
                             ("(`tagger query --status error` lists them)", "dim")))
    console.print(styled(field("audio"), f"{format_hours(stats.hours)} analysed"))
    if stats.labels:
        console.print(styled(field("labels"), f"{plural(stats.labels, 'human label')}"))
    console.print(styled(field("last scan"), stats.last_scan or "never finished"))
    for k, model in enumerate(stats.models):
        errors = f", {plural(model.errors, 'error')}" if model.errors else ""
        console.print(styled(field("models" if k == 0 else ""),
                             f"{printable(model.model)}: {plural(model.tracks, 'track')}{errors}"))
    if stats.instruments:
        console.print()
        console.print(_instrument_table(stats))
        console.print("share: of the analysed tracks; playing: time inside the instrument's"
                      " segments", style="dim")
    elif stats.ok:
        console.print("no instrument found in any track", style="dim")


@app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object.")] = False,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Summarise the store: tracks, hours of audio, errors, instruments, model versions."""
    with store_session(db, must_exist=True, quiet=quiet) as store:
        stats = store_stats(store)
        path = str(store.path)
    if as_json:
        sys.stdout.write(json.dumps({"db": path, **stats.to_dict()}, ensure_ascii=False,
                                    indent=2) + "\n")
        return
    print_stats(stats, path)
