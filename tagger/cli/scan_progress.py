"""The scan's progress line: tracks done, speed, errors, time so far and time left."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tagger.cli.common import error_line, labelled, plural
from tagger.store.db import display_path

# Tracks to finish before an estimate is shown: the first ones include loading the model.
ETA_AFTER_TRACKS = 2


def format_eta(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05`` (whole seconds, rounded up)."""
    total = max(0, int(-(-seconds // 1)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_text(elapsed_s: float, done: int, total: int | None) -> str:
    """``"eta 0:42"`` from the pace so far (tracks per second), or ``""`` before there is a
    pace worth extrapolating and once every track is done."""
    if not total or done < min(ETA_AFTER_TRACKS, total) or done >= total or elapsed_s <= 0:
        return ""
    return f"eta {format_eta(elapsed_s / done * (total - done))}"


class RichProgress:
    """Shows tracks done, x real time, errors so far, elapsed time and an ETA; prints each
    error as one line above the bar.

    Implements ``tagger.pipeline.scanning.ScanProgress`` without importing it (that would load
    torch for every command)."""

    def __init__(self, quiet: bool, console: Console):
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("scan", style="bold"), BarColumn(bar_width=None), MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}", markup=False),
            TextColumn("{task.fields[errors]}", style="red", markup=False),
            TimeElapsedColumn(), TextColumn("{task.fields[eta]}", markup=False),
            console=console, transient=False, disable=quiet, expand=True,
        )
        self.task = self.progress.add_task("scan", total=None, speed="", errors="", eta="")
        self.audio_s = 0.0
        self.errors = 0
        self.done = 0
        self.total: int | None = None
        self.started = time.perf_counter()

    def __enter__(self) -> "RichProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def _print(self, line: object) -> None:
        self.progress.console.print(line, soft_wrap=True)

    def planned(self, to_scan: int, skipped: int) -> None:
        self.total = to_scan
        self.progress.update(self.task, total=to_scan)
        self.started = time.perf_counter()
        if skipped and not self.quiet:
            self._print(f"{plural(skipped, 'unchanged track')} skipped (--force to rescan)")

    def track_done(self, path: str, audio_s: float, error: str | None) -> None:
        self.audio_s += audio_s
        self.done += 1
        if error:
            self.errors += 1
            self._print(error_line(path, error))
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(
            self.task, advance=1,
            speed=f"{self.audio_s / elapsed:,.0f}x real time" if self.audio_s else "",
            errors=plural(self.errors, "error") if self.errors else "",
            eta=eta_text(elapsed, self.done, self.total))

    def problem(self, path: str, message: str) -> None:
        self._print(error_line(path, message))

    def notice(self, message: str) -> None:
        if not self.quiet:
            self._print(labelled("note:", "yellow", message))

    def track_note(self, path: str, note: str) -> None:
        if not self.quiet:
            self._print(labelled("note", "yellow", f"{display_path(path)}: {note}"))
