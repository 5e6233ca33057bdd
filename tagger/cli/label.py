"""``tagger label``: the local labeling page; ``tagger labels export``: the labels as CSV/JSONL."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tagger.cli.app import app
from tagger.cli.common import (DbOption, QuietOption, check_output_folder, console, fail,
                               print_line, store_session, styled, warn)
from tagger.printable import printable
from tagger.config import resolve_db_path

labels_app = typer.Typer(help="Human labels from `tagger label`: export them.",
                         no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@app.command("label")
def label_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but a loopback "
                                      "address exposes the page to your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port (0 = any free one).")] = 8765,
    instruments: Annotated[str, typer.Option(
        "--instruments", help="Comma-separated instruments to label (aliases and groups work), "
                              "or 'all'.")] = "all",
    order: Annotated[str, typer.Option(
        "--order", help="uncertain: what the model is least sure about first, spread over "
                        "tracks; random: any order.")] = "uncertain",
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for --order random.")] = None,
    per_track: Annotated[Optional[int], typer.Option(
        "--per-track", min=1, help="At most this many clips from one track.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Label 5-s clips in your browser: listen, mark each instrument Foreground/Background/None."""
    from tagger.label.api import LabelApp, LabelOptions
    from tagger.label.clips import ORDERS
    from tagger.label.server import is_loopback, make_server
    from tagger.store import StoreError
    from tagger.taxonomy import UnknownInstrumentError

    if order not in ORDERS:
        fail(f"--order must be one of {', '.join(ORDERS)} (got {order!r})")
    path = resolve_db_path(db)
    if not path.exists():
        fail(f"no database at {printable(str(path))} (run `tagger scan` first, or pass --db)")
    try:
        label_app = LabelApp(path, LabelOptions(instruments=instruments, order=order, seed=seed,
                                                per_track_cap=per_track))
    except (UnknownInstrumentError, ValueError) as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(str(exc))
    if not label_app.index.tracks:
        fail(f"no scanned tracks with chunk scores in {printable(str(path))} (run `tagger scan` first)")
    try:
        server = make_server(label_app, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
             + (" (try --port 0 for any free port)" if port else ""))
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="%(message)s")
    if not is_loopback(host):
        warn(f"listening on {host}, not 127.0.0.1: anyone who can reach this machine can open"
             " the page and hear your tracks.")
    console.print(f"Labeling {len(label_app.instruments)} instrument(s): "
                  f"{', '.join(label_app.instruments)}; {label_app.queue.remaining()} clip(s) to go.",
                  highlight=False)
    console.print(styled("Open ", (server.url, "bold"), " in your browser. Ctrl+C stops."))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@labels_app.command("export")
def export_command(
    db: DbOption = None,
    csv_format: Annotated[bool, typer.Option("--csv", help="CSV with a header (the default).")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON object per line.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE "
                                                   "instead of standard output.")] = None,
    quiet: QuietOption = False,
) -> None:
    """Write every human label (track, start, end, instrument, role, when)."""
    from tagger.label.labels import export_csv, export_jsonl

    if csv_format and jsonl:
        fail("choose one of --csv and --jsonl")
    writer = export_jsonl if jsonl else export_csv
    check_output_folder(output)
    with store_session(db, must_exist=True, quiet=quiet) as store:
        if output is None:
            n = writer(store, sys.stdout)
        else:
            try:
                with open(output, "w", encoding="utf-8", newline="") as out:
                    n = writer(store, out)
            except OSError as exc:
                fail(f"cannot write {printable(str(output))}: {exc.strerror or exc}")
    if not quiet and output is not None:
        print_line(f"{n} label row{'s' * (n != 1)} written to {printable(str(output))}", err=True)
