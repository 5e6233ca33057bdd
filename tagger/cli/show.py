"""``tagger show TRACK``: one track's instruments as a timeline; ``--plot`` draws a PNG."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tagger.cli.app import app
from tagger.cli.common import (EXIT_FAILED, DbOption, QuietOption, check_output_folder, console,
                               err_console, fail, store_session)
from tagger.printable import printable
from tagger.export import track_record
from tagger.plot import AudioUnavailableError, plot_track
from tagger.show import TrackNotFoundError, resolve_track, timeline_lines


@app.command("show")
def show_command(
    track: Annotated[str, typer.Argument(
        help="A stored track's path, or a unique end of one (e.g. 'Album/03 Song.mp3').",
        show_default=False)],
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", dir_okay=False,
        help="Also draw the segments over the log-mel spectrogram into this PNG.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="The track's export record (the `tagger export` shape).")] = False,
    sample_rate: Annotated[int, typer.Option(
        "--sample-rate", min=1000, help="Sample rate for the --plot spectrogram.")] = 22050,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Show which instruments play where in one track."""
    check_output_folder(plot)
    with store_session(db, must_exist=True, quiet=quiet) as store:
        try:
            row = resolve_track(store, track)
        except TrackNotFoundError as exc:
            fail(str(exc))
        if as_json:
            record = track_record(store, row)
            sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        else:
            lines = timeline_lines(row, store.instruments(row["id"]), store.segments(row["id"]),
                                   width=console.width)
            for line in lines:
                console.print(line, highlight=False, soft_wrap=True)
        if plot is not None:
            if row["status"] != "ok":
                fail(f"cannot plot {printable(row['path'])}: it failed to scan"
                     f" ({printable(row['error'] or '')})", EXIT_FAILED)
            try:
                out = plot_track(store, row, plot, sample_rate=sample_rate)
            except AudioUnavailableError as exc:
                fail(str(exc), EXIT_FAILED)
            except OSError as exc:
                fail(f"cannot write {printable(str(plot))}: {exc.strerror or exc}", EXIT_FAILED)
            if not quiet:
                err_console.print(f"wrote {printable(str(out))}", highlight=False, markup=False)
