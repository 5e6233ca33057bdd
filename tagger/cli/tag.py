"""``tagger tag``: write the store's instrument answers into the files (or remove them again).

Thin over :func:`tagger.tags.tag_tracks`; this module only picks the tracks (paths, folders,
query filters), prints, and sets the exit code (0 ok, 1 some files failed, 2 usage error).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tagger.cli.app import app
from tagger.cli.common import (
    EXIT_FAILED, DbOption, QuietOption, console, err_console, error_line, fail, print_line,
    store_session, styled,
)
from tagger.cli.track_filters import (AnyNames, Formats, MinCoverage, MinScore, Names, NotNames,
                                     PathContains, PathGlob, Role, filter_spec, filters_given)
from tagger.cli.tag_options import (DEFAULT_ID3_VERSION, DEFAULT_SEPARATOR, Id3VersionOption,
                                   MultiValueOption, SeparatorOption, tag_options)
from tagger.printable import printable
from tagger.store.db import Store, display_path, path_key
from tagger.store.lookups import all_track_ids, track_id_for_key, track_ids_under

if TYPE_CHECKING:  # tagger.tags loads mutagen (0.1-0.3 s): imported where a command needs it
    from tagger.query import QuerySpec
    from tagger.tags import TagOptions, TagOutcome

_SYMBOL = {"add": ("+", "green"), "change": ("~", "yellow"), "remove": ("-", "red")}


def _values(values: list[str]) -> str:
    return "; ".join(values) if values else "∅"


def tracks_for_paths(store: Store, paths: list[Path]) -> tuple[list[int], list[str]]:
    """Track ids for files and folders (every stored track under a folder), and paths not found.

    Paths resolve like a scan resolves them, so a symlink finds the track of its target. A
    file no longer on disk is still found by its stored path (and then fails as "not found").
    """
    ids: list[int] = []
    missing: list[str] = []
    for given in paths:
        real = os.path.realpath(given)
        found = track_id_for_key(store, path_key(real))
        if found is not None:
            ids.append(found)
            continue
        # A folder: every track whose path starts with "<folder>/".
        under = track_ids_under(store, path_key(real.rstrip(os.sep) + os.sep))
        if under:
            ids.extend(under)
        else:
            missing.append(display_path(given))
    return list(dict.fromkeys(ids)), missing


def _query_ids(store: Store, spec: "QuerySpec") -> list[int]:
    from tagger.query import QueryError, UnknownInstrumentError, run_query

    try:
        return [hit.track_id for hit in run_query(store, spec)]
    except (QueryError, UnknownInstrumentError) as exc:
        fail(str(exc))


def _read(path: Path, as_json: bool, options: TagOptions) -> None:
    from tagger.tags import FIELDS, TagError, read_fields

    try:
        state = read_fields(os.fspath(path), options)
    except TagError as exc:
        fail(f"{display_path(path)}: {exc}", EXIT_FAILED)
    if as_json:
        console.print_json(json.dumps({
            "path": display_path(path), "format": state.format,
            "fields": {f.name: {"key": state.labels[f.name], "values": state.values[f.name]}
                       for f in FIELDS},
        }))
        return
    table = Table(title=f"{printable(display_path(path))} ({state.format})", title_justify="left")
    table.add_column("field")
    table.add_column("stored as", overflow="fold")
    table.add_column("values", overflow="fold")
    for f in FIELDS:
        values = state.values[f.name]
        table.add_row(f.name, state.labels[f.name],
                      printable("; ".join(values)) if values else styled(("(absent)", "dim")))
    console.print(table)


def _print_changes(outcome: TagOutcome) -> None:
    print_line(printable(outcome.path))
    for c in outcome.changes:
        old, new = printable(_values(c.old)), printable(_values(c.new))
        text = {"add": new, "remove": old, "change": f"{old} → {new}"}[c.action]
        if c.old == c.new:  # a file tagged in the other --multi-value layout
            text = f"{new} (same values, rewritten in the new layout)"
        print_line(styled("  ", _SYMBOL[c.action], f" {c.field}: {text}"))


@app.command("tag")
def tag_command(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help="Files or folders already scanned.", show_default=False)] = None,
    db: DbOption = None,
    has: Names = [],  # noqa: B006 (typer needs a literal default)
    any_: AnyNames = [],  # noqa: B006
    not_: NotNames = [],  # noqa: B006
    min_score: MinScore = None,
    min_coverage: MinCoverage = None,
    role: Role = None,
    path: PathGlob = None,
    path_contains: PathContains = None,
    formats: Formats = [],  # noqa: B006
    all_: Annotated[bool, typer.Option("--all", help="Every track in the store.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the fields each file would gain, change or lose; touch nothing.")] = False,
    remove: Annotated[bool, typer.Option(
        "--remove", help="Take our fields out again, restoring any value they replaced.")] = False,
    read: Annotated[Optional[Path], typer.Option(
        "--read", help="Show our fields as this file holds them, and exit.", show_default=False)] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON object per file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --read: JSON output.")] = False,
    multi_value: MultiValueOption = None,
    separator: SeparatorOption = DEFAULT_SEPARATOR,
    id3_version: Id3VersionOption = DEFAULT_ID3_VERSION,
    quiet: QuietOption = False,
) -> None:
    """Write INSTRUMENTS, INSTRUMENTS_LEAD and INSTRUMENTS_MODEL tags into scanned files."""
    options = tag_options(multi_value, separator, id3_version)
    if read is not None:
        if paths or remove or dry_run:
            fail("--read takes one file and no other action")
        _read(read, as_json, options)
        return
    spec = filter_spec(has=has, any_=any_, not_=not_, min_score=min_score,
                       min_coverage=min_coverage, role=role, path=path,
                       path_contains=path_contains, formats=formats)
    use_query = filters_given(spec)
    if not paths and not use_query and not all_:
        fail("say which tracks: PATH..., query filters (--has/--any/--not...) or --all")

    with store_session(db, must_exist=True, quiet=quiet) as store:
        missing: list[str] = []
        if paths:
            ids, missing = tracks_for_paths(store, list(paths))
        else:
            ids = all_track_ids(store)
        if use_query:
            wanted = set(_query_ids(store, spec))
            ids = [i for i in ids if i in wanted]
        counts = _run(store, ids, missing, dry_run=dry_run, remove=remove, jsonl=jsonl,
                      quiet=quiet, options=options)
    if counts["error"]:
        raise typer.Exit(EXIT_FAILED)


def _run(store: Store, ids: list[int], missing: list[str], *, dry_run: bool, remove: bool,
         jsonl: bool, quiet: bool, options: TagOptions) -> dict[str, int]:
    from tagger.tags import tag_tracks

    counts = {"changed": 0, "unchanged": 0, "skipped": 0, "error": len(missing)}
    for path in missing:
        print_line(error_line(path, "not in the store (run `tagger scan` on it first)"), err=True)
    verb = ("to restore" if remove else "to tag") if dry_run else (
        "restored" if remove else "tagged")
    progress = Progress(
        TextColumn("tag", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[errors]}", style="red", markup=False), TimeElapsedColumn(),
        console=err_console, disable=quiet or jsonl or dry_run,
    )
    with progress:
        task = progress.add_task("tag", total=len(ids), errors="")
        for outcome in tag_tracks(store, ids, dry_run=dry_run, remove=remove, options=options):
            counts[outcome.status] += 1
            if jsonl:
                console.print_json(json.dumps(_outcome_dict(outcome)), indent=None)
            elif outcome.failed:
                progress.console.print(error_line(outcome.path, outcome.error or ""), soft_wrap=True)
            elif dry_run and outcome.changes:
                _print_changes(outcome)
            progress.update(task, advance=1,
                            errors=f"{counts['error']} error(s)" if counts["error"] else "")
    if not quiet and not jsonl:
        line = (f"{counts['changed']} file(s) {verb}, {counts['unchanged']} already up to date"
                + (f", {counts['skipped']} skipped (scan failed)" if counts["skipped"] else "")
                + (f", {counts['error']} failed" if counts["error"] else "")
                + (" (dry run: nothing written)" if dry_run else ""))
        (err_console if counts["error"] else console).print(line, highlight=False)
    return counts


def _outcome_dict(o: TagOutcome) -> dict[str, object]:
    return {
        "path": o.path, "status": o.status, "dry_run": o.dry_run, "error": o.error,
        "changes": [{"field": c.field, "action": c.action, "old": c.old, "new": c.new}
                    for c in o.changes],
    }
