"""``tagger scan PATH...``: analyse tracks into the store, with progress and a summary."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from tagger.cli.app import app
from tagger.cli.common import (EXIT_FAILED, DbOption, QuietOption, err_console,
                               error_line, fail, plural, print_line, store_session)
from tagger.cli.scan_progress import RichProgress
from tagger.cli.tag_options import (DEFAULT_ID3_VERSION, DEFAULT_SEPARATOR, Id3VersionOption,
                                   MultiValueOption, SeparatorOption, tag_options)
from tagger.printable import printable
from tagger.store.db import display_path


@app.command("scan")
def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan.", show_default=False)],
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model NAME or PATH (see `tagger models`).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=0, help="Decode workers (default: two thirds of the cores on CPU, cores - 1 with CUDA).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Windows per model batch (default: 8 on CPU, 64 on CUDA).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for the model (default: cores left by the workers).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Rescan unchanged tracks too.")] = False,
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="Rescan unchanged tracks that failed last time (failures that may pass, such as permission denied, are retried anyway).")] = False,
    write_tags: Annotated[bool, typer.Option("--write-tags", help="Write instrument tags into the files after analysis.")] = False,
    multi_value: MultiValueOption = None,
    separator: SeparatorOption = DEFAULT_SEPARATOR,
    id3_version: Id3VersionOption = DEFAULT_ID3_VERSION,
    engine: Annotated[str, typer.Option("--engine", help="local, or ray: decode and score on a Ray cluster (needs the ray extra, see docs/ray.md).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else start or join a local one).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Analyse tracks: which instruments play where. Unchanged tracks are skipped."""
    from tagger.engines import ENGINES, EngineError, make_engine
    from tagger.model.registry import ModelNotFoundError
    from tagger.pipeline.run import scan
    from tagger.pipeline.scanning import ScanOptions

    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        fail(f"no such file or folder: {', '.join(display_path(p) for p in missing)}")
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        fail(f"--device must be auto, cpu or cuda (got {device!r})")
    if engine not in ENGINES:
        fail(f"--engine must be {' or '.join(ENGINES)} (got {engine!r})")
    settings = {"address": ray_address} if ray_address else {}
    if set(settings) - ENGINES[engine].settings:
        takers = [name for name, cls in ENGINES.items() if "address" in cls.settings]
        fail(f"--ray-address needs --engine {' or '.join(takers)}")
    runner = make_engine(engine, **settings)
    tagging = tag_options(multi_value, separator, id3_version)
    options = ScanOptions(model=model, device=device, batch_size=batch_size, threads=threads,
                          force=force, workers=workers, retry_errors=retry_errors)
    try:  # e.g. the local engine asked for CUDA on a machine without it
        runner.check(options)
    except (EngineError, ValueError) as exc:
        fail(str(exc))
    from tagger.store import StoreError

    with store_session(db, read_only=False, quiet=quiet) as store:
        on_written = None
        if write_tags:
            from tagger.tags.writer import TagWriter

            def report_failure(outcome) -> None:
                print_line(error_line(outcome.path, f"tags not written: {outcome.error}"), err=True)

            on_written = TagWriter(store, options=tagging, on_error=report_failure)
        try:
            with RichProgress(quiet, err_console) as progress:
                report = scan([str(p) for p in paths], store=store, options=options,
                              progress=progress, on_written=on_written, engine=runner)
        except (ModelNotFoundError, EngineError) as exc:
            fail(str(exc))
        except StoreError as exc:
            fail(f"{exc} (tracks finished before this are saved; run the scan again to resume)")
        except KeyboardInterrupt:
            fail("interrupted (finished tracks are saved; run the scan again to resume)", 130)
        error_rows = store.counts().get("error", 0)
    stale = report.unchanged_errors
    failed = (report.failed + len(report.problems) + len(stale)
              + (on_written.failed if on_written else 0))
    for path, error in stale:
        print_line(error_line(path, f"{error} (unchanged since it failed)"), err=True)
    if stale:
        print_line(retry_hint(len(stale), error_rows, paths, db), err=True)
    if not quiet:
        print_line(
            f"{report.scanned} scanned, {report.skipped} unchanged, {report.failed} failed"
            + (f", {len(stale)} unchanged with errors" if stale else "")
            + (f", {plural(len(report.problems), 'unreadable path')}" if report.problems else "")
            + f" — {report.audio_seconds / 60:.1f} min of audio in {report.elapsed_s:.1f} s"
            + (f" ({report.x_realtime:,.0f}x real time)" if report.scanned else "")
            + f" [model {report.model}]"
            + (f"; tags written to {plural(on_written.written, 'file')}" if on_written else ""))
    if failed:
        raise typer.Exit(EXIT_FAILED)


def retry_hint(unchanged_failed: int, error_rows: int, paths: list[Path], db: Path | None) -> str:
    """What to do about failures a re-scan skipped: how many the store holds, and the commands
    that retry and list them (with this scan's paths and --db, ready to paste)."""
    db_arg = f" --db {shlex.quote(printable(display_path(db)))}" if db is not None else ""
    where = " ".join(shlex.quote(printable(display_path(p))) for p in paths)
    return (f"{plural(unchanged_failed, 'unchanged track')} failed when last scanned (the store"
            f" holds {plural(error_rows, 'error row')}): `tagger scan --retry-errors {where}{db_arg}`"
            f" tries them again, `tagger query --status error{db_arg}` lists them")
