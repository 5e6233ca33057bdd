"""``tagger scan PATH...``: analyse tracks into the store, with progress and a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tagger.cli.app import app
from tagger.cli.common import EXIT_FAILED, DbOption, QuietOption, console, err_console, fail, store_session
from tagger.printable import printable
from tagger.store.db import display_path


def error_line(path: str, message: str) -> str:
    """``error PATH: MESSAGE`` as rich markup, the name and message escaped (a file name may
    hold ``[`` or control characters)."""
    return f"[red]error[/] {escape(printable(display_path(path)))}: {escape(printable(message))}"


class RichProgress:
    """Shows tracks done, x real time and errors so far; prints each error as one line.

    Implements ``tagger.scan.ScanProgress`` without importing it (that would load torch for
    every command)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("[red]{task.fields[errors]}"),
            TimeElapsedColumn(), console=err_console, transient=False, disable=quiet,
        )
        self.task = self.progress.add_task("scan", total=None, speed="", errors="")
        self.audio_s = 0.0
        self.errors = 0
        self.started = time.perf_counter()

    def __enter__(self) -> "RichProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def planned(self, to_scan: int, skipped: int) -> None:
        self.progress.update(self.task, total=to_scan)
        self.started = time.perf_counter()
        if skipped and not self.quiet:
            self.progress.console.print(f"{skipped} unchanged track(s) skipped (--force to rescan)")

    def track_done(self, path: str, audio_s: float, error: str | None) -> None:
        self.audio_s += audio_s
        if error:
            self.errors += 1
            self.progress.console.print(error_line(path, error), highlight=False, soft_wrap=True)
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(
            self.task, advance=1, speed=f"{self.audio_s / elapsed:,.0f}x real time",
            errors=f"{self.errors} error(s)" if self.errors else "")

    def problem(self, path: str, message: str) -> None:
        self.progress.console.print(error_line(path, message), highlight=False, soft_wrap=True)

    def notice(self, message: str) -> None:
        if not self.quiet:
            self.progress.console.print(f"note: {message}", highlight=False, soft_wrap=True)

    def track_note(self, path: str, note: str) -> None:
        if not self.quiet:
            self.progress.console.print(f"[yellow]note[/] {escape(printable(display_path(path)))}: "
                                        f"{escape(printable(note))}",
                                       highlight=False, soft_wrap=True)


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
    write_tags: Annotated[bool, typer.Option("--write-tags", help="Write instrument tags into the files after analysis.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local, or ray: decode and score on a Ray cluster (needs the ray extra, see docs/ray.md).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster to join (default: $RAY_ADDRESS, else start or join a local one).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Analyse tracks: which instruments play where. Unchanged tracks are skipped."""
    from tagger.model.registry import ModelNotFoundError
    from tagger.scan import ScanOptions, scan

    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        fail(f"--device must be auto, cpu or cuda (got {device!r})")
    if engine not in ("local", "ray"):
        fail(f"--engine must be local or ray (got {engine!r})")
    if ray_address and engine != "ray":
        fail("--ray-address needs --engine ray")
    if engine == "local" and device.startswith("cuda"):  # with Ray, the cluster's GPUs count
        from tagger.inference import pick_device  # torch: only to check for CUDA up front

        try:
            pick_device(device)
        except ValueError as exc:
            fail(str(exc))
    run_scan, user_errors = scan, (ModelNotFoundError,)
    if engine == "ray":  # same plan, sink and store; decoding and scoring run on the cluster
        from functools import partial

        from tagger.engines.ray_engine import RayEngineError, RayOptions, scan_ray
        run_scan = partial(scan_ray, ray_options=RayOptions(address=ray_address))
        user_errors = (ModelNotFoundError, RayEngineError)
    options = ScanOptions(model=model, device=device, batch_size=batch_size, threads=threads,
                          force=force, workers=workers)
    from tagger.store import StoreError

    with store_session(db, read_only=False, quiet=quiet) as store:
        on_written = None
        if write_tags:
            from tagger.cli.scan_tags import TagWriterHook
            on_written = TagWriterHook(store, quiet=quiet)
        try:
            with RichProgress(quiet) as progress:
                report = run_scan([str(p) for p in paths], store=store, options=options,
                                  progress=progress, on_written=on_written)
        except user_errors as exc:
            fail(str(exc))
        except StoreError as exc:
            fail(f"{exc} (tracks finished before this are saved; run the scan again to resume)")
        except KeyboardInterrupt:
            fail("interrupted (finished tracks are saved; run the scan again to resume)", 130)
    stale = report.unchanged_errors
    failed = (report.failed + len(report.problems) + len(stale)
              + (on_written.failed if on_written else 0))
    for path, error in stale:
        err_console.print(error_line(path, f"{error} (unchanged since it failed; --force"
                                     " retries it)"), highlight=False, soft_wrap=True)
    if not quiet:
        console.print(
            f"{report.scanned} scanned, {report.skipped} unchanged, {report.failed} failed"
            + (f", {len(stale)} unchanged with errors" if stale else "")
            + (f", {len(report.problems)} unreadable path(s)" if report.problems else "")
            + f" — {report.audio_seconds / 60:.1f} min of audio in {report.elapsed_s:.1f} s"
            + (f" ({report.x_realtime:,.0f}x real time)" if report.scanned else "")
            + f" [model {report.model}]"
            + (f"; tags written to {on_written.written} file(s)" if on_written else ""),
            highlight=False, soft_wrap=True,
        )
    if failed:
        raise typer.Exit(EXIT_FAILED)
