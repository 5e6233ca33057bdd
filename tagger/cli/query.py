"""``tagger query``: find tracks by instrument; a table, JSON, paths or an M3U playlist.

Thin over :mod:`tagger.query`. Kept light to import (no torch, no librosa): it is the command
people run in pipes, so its start-up time is most of its run time.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from tagger.cli.app import app
from tagger.cli.common import (DbOption, QuietOption, check_output_folder, console, err_console,
                               fail, plural, print_line, silence_stdout, store_session)
from tagger.cli.track_filters import (AnyNames, Formats, MinCoverage, MinScore, Names, NotNames,
                                     PathContains, PathGlob, Role, filter_spec, option)
from tagger.printable import printable, printable_bytes
from tagger.query import (QueryError, TrackHit, UnknownInstrumentError, m3u_bytes, m3u_fits,
                          run_query, write_m3u)

# A terminal table of 10,000 rows helps nobody and takes seconds to lay out; past this many the
# table stops with a note pointing at --limit/--paths/--json (which always give everything).
TABLE_MAX_ROWS = 500


def format_duration(seconds: float | None) -> str:
    """``212.4`` -> ``3:32``; ``3725`` -> ``1:02:05``; unknown -> ``?``."""
    if seconds is None:
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _instrument_cell(hit: TrackHit) -> Text:
    if hit.status != "ok":
        return Text(f"error: {printable(hit.error or 'unknown')}", style="red")
    cell = Text()
    for m in hit.matched:
        if cell:
            cell.append("\n")
        cell.append(f"{m.instrument} ")
        cell.append(f"{m.score:.2f}", style="cyan")
        cell.append(f" {m.coverage:.0%}")
        if m.role == "foreground":
            cell.append(" lead", style="bold")
    return cell or Text("-", style="dim")


def common_folder(paths: list[str]) -> str | None:
    """The deepest folder holding every path, when there is one below the root: the table
    names tracks relative to it (said once above it), so at 80 columns a name is not folded
    mid-word behind the same long library prefix on every row."""
    folders = {os.path.dirname(p) for p in paths}
    if not folders or not all(os.path.isabs(f) for f in folders):
        return None
    common = os.path.commonpath(sorted(folders))
    return common if common != os.path.dirname(common) else None  # not "/"


def _table(hits: list[TrackHit], folder: str | None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    table.add_column("path", overflow="fold", ratio=1)
    table.add_column("length", justify="right", no_wrap=True)
    header = "instrument score cover"
    cells = [_instrument_cell(hit) for hit in hits[:TABLE_MAX_ROWS]]
    # As wide as the widest answer; an error message wraps inside that instead of widening it.
    widest = max([len(line) for hit, cell in zip(hits, cells) if hit.status == "ok"
                  for line in cell.plain.split("\n")] + [len(header)])
    table.add_column(header, width=widest)
    table.add_column("format", no_wrap=True)
    for hit, cell in zip(hits, cells):
        shown = os.path.relpath(hit.path, folder) if folder else hit.path
        table.add_row(printable(shown), format_duration(hit.duration), cell, hit.format or "")
    return table


def _write_paths(hits: list[TrackHit], *, null: bool = False) -> None:
    """One path per line, as the file system's bytes (names need not be UTF-8), control
    characters escaped so a name cannot split or drive the terminal; ``null``: each path's
    exact bytes ended by a NUL (like ``find -print0``), for names with newlines."""
    out = sys.stdout.buffer
    if null:
        data = b"".join(hit.path_key + b"\0" for hit in hits)
    else:
        data = b"".join(printable_bytes(hit.path_key) + b"\n" for hit in hits)
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:  # `tagger query --paths | head`
        silence_stdout()
        raise typer.Exit(0)


def _write_playlist(hits: list[TrackHit], m3u: Path, *, to_stdout: bool, quiet: bool) -> None:
    """``--m3u FILE`` (atomic) or ``--m3u -`` (standard output), then what was written."""
    if to_stdout:
        try:
            sys.stdout.buffer.write(m3u_bytes(hits))
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            silence_stdout()
            raise typer.Exit(0)
    else:
        try:
            write_m3u(hits, m3u)
        except OSError as exc:
            fail(f"cannot write {printable(str(m3u))}: {exc.strerror or exc}")
    left_out = sum(not m3u_fits(h) for h in hits)
    if left_out:
        print_line(f"left out {plural(left_out, 'track')} whose names hold a line break (M3U"
                   " cannot hold them; --paths -0 can)", err=True)
    if not quiet:
        where = "standard output" if to_stdout else printable(str(m3u))
        print_line(f"wrote {plural(len(hits) - left_out, 'track')} to {where}", err=True)


QUERY_HELP = (
    "Find tracks by the instruments in them, best match first.\n\n"
    "Examples: `tagger query --has sax`; `tagger query --has guitar --has vocals --role "
    "foreground`; `tagger query --any flute,clarinet --not drums --paths | mpv --playlist=-`."
)


@app.command("query", help=QUERY_HELP)
def query_command(
    has: Names = [],  # noqa: B006 (typer needs a literal default)
    any_: AnyNames = [],  # noqa: B006
    not_: NotNames = [],  # noqa: B006
    min_score: MinScore = None,
    min_coverage: MinCoverage = None,
    role: Role = None,
    path: PathGlob = None,
    path_contains: PathContains = None,
    formats: Formats = [],  # noqa: B006
    status: Annotated[str, typer.Option("--status", help="ok, error or all.")] = "ok",
    limit: Annotated[Optional[int], option(
        "--limit", min=0, help="At most this many tracks (best first).")] = None,
    as_json: Annotated[bool, option("--json", help="A JSON array.")] = False,
    as_jsonl: Annotated[bool, option("--jsonl", help="One JSON object per line.")] = False,
    paths_only: Annotated[bool, option(
        "--paths", help="Only paths, one per line (for piping; control characters escaped).")] = False,
    null: Annotated[bool, option(
        "--null", "-0", help="With --paths: end each path with NUL, not a newline, and keep its"
        " exact bytes (for xargs -0).")] = False,
    m3u: Annotated[Optional[Path], option(
        "--m3u", dir_okay=False,
        help="Write the matches as an extended M3U playlist (- for standard output).")] = None,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Find tracks by instrument (the help text is QUERY_HELP)."""
    if sum((as_json, as_jsonl, paths_only)) > 1:
        fail("choose one of --json, --jsonl and --paths")
    if null and not paths_only:
        fail("--null goes with --paths")
    m3u_to_stdout = m3u is not None and str(m3u) == "-"
    if m3u_to_stdout and (as_json or as_jsonl or paths_only):
        fail("--m3u - and --json/--jsonl/--paths would both write to standard output")
    check_output_folder(None if m3u_to_stdout else m3u)
    if status not in ("ok", "error", "all"):
        fail(f"--status must be ok, error or all, not {status!r}")
    spec = filter_spec(has=has, any_=any_, not_=not_, min_score=min_score,
                       min_coverage=min_coverage, role=role, path=path,
                       path_contains=path_contains, formats=formats,
                       status=None if status == "all" else status, limit=limit)
    with store_session(db, must_exist=True, quiet=quiet) as store:
        try:
            hits = run_query(store, spec)
        except (UnknownInstrumentError, QueryError) as exc:
            fail(str(exc))

    if m3u is not None:
        _write_playlist(hits, m3u, to_stdout=m3u_to_stdout, quiet=quiet)
    if as_json:
        sys.stdout.write(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1) + "\n")
    elif as_jsonl:
        sys.stdout.write("".join(json.dumps(h.to_dict(), ensure_ascii=False) + "\n" for h in hits))
    elif paths_only:
        _write_paths(hits, null=null)
    elif m3u is None and hits:
        folder = common_folder([h.path for h in hits[:TABLE_MAX_ROWS]])
        if folder:
            console.print(f"in {printable(folder)}{os.sep}", highlight=False, soft_wrap=True)
        console.print(_table(hits, folder))
        if len(hits) > TABLE_MAX_ROWS:
            err_console.print(f"showing {TABLE_MAX_ROWS} of {len(hits):,} tracks; use --limit,"
                              " --paths or --json for all", style="dim")
        elif not quiet:
            console.print(f"{len(hits):,} track{'s' * (len(hits) != 1)}", highlight=False)
    if not hits and not quiet:
        err_console.print("no tracks match", highlight=False)
