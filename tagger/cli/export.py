"""``tagger export``: every track as JSON lines in the DESIGN.md export format (a contract)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tagger.cli.app import app
from tagger.cli.common import (DbOption, QuietOption, check_output_folder, err_console, fail,
                               silence_stdout, store_session)
from tagger.printable import printable
from tagger.export import export_tracks, write_jsonl, write_jsonl_file


def _with_progress(
    records: Iterator[dict[str, Any]], total: int, progress: Progress
) -> Iterator[dict[str, Any]]:
    task = progress.add_task("export", total=total)
    for record in records:
        yield record
        progress.advance(task)



@app.command("export")
def export_command(
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", dir_okay=False,
        help="Write to this file (atomically) instead of stdout.")] = None,
    status: Annotated[str, typer.Option("--status", help="all, ok or error.")] = "all",
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write every track as one JSON object per line (the DESIGN.md export format)."""
    if status not in ("all", "ok", "error"):
        fail(f"--status must be all, ok or error, not {status!r}")
    check_output_folder(output)
    with store_session(db, must_exist=True, quiet=quiet) as store:
        records = export_tracks(store, status=None if status == "all" else status)
        if output is None:
            try:
                write_jsonl(records, sys.stdout)
                sys.stdout.flush()
            except BrokenPipeError:  # `tagger export | head`
                silence_stdout()
                raise typer.Exit(0)
            return
        counts = store.counts()
        total = sum(counts.values()) if status == "all" else counts.get(status, 0)
        progress = Progress(TextColumn("export", style="bold", markup=False), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                            transient=True,
                            disable=quiet or not err_console.is_terminal)
        try:
            with progress:
                n = write_jsonl_file(_with_progress(records, total, progress), output)
        except OSError as exc:
            fail(f"cannot write {printable(str(output))}: {exc.strerror or exc}")
        if not quiet:
            err_console.print(f"exported {n:,} tracks to {printable(str(output))}",
                              highlight=False, markup=False)
