"""``tagger prune``: remove the stored rows of tracks whose files are gone (``--dry-run`` lists)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tagger.cli.app import app
from tagger.cli.common import DbOption, QuietOption, console, fail, print_line, store_session
from tagger.printable import printable


@app.command("prune")
def prune_command(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help="Only tracks under these files or folders (default: every stored track).",
        show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be removed; change nothing.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Prune even when every track in scope is gone (an unmounted disk "
                        "looks like that).")] = False,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Remove stored tracks whose files no longer exist; tracks with labels are kept."""
    from tagger.prune import apply_prune, plan_prune
    from tagger.store import StoreError

    with store_session(db, must_exist=True, read_only=True if dry_run else None,
                       quiet=quiet) as store:
        plan = plan_prune(store, paths or [])
        gone = len(plan.gone) + len(plan.labelled)
        if gone > 1 and gone == plan.in_scope and not force and not dry_run:
            fail(f"all {gone} stored tracks in scope are missing on disk (is the disk mounted?);"
                 " check with --dry-run, then pass --force to prune them")
        verb = "would remove" if dry_run else "removed"
        for _tid, path in plan.gone:
            if not quiet:
                print_line(f"{verb} {printable(path)}")
        for _tid, path in plan.labelled:
            print_line(f"kept {printable(path)}: its file is gone but it holds labels", err=True)
        if not dry_run:
            try:
                apply_prune(store, plan)
            except StoreError as exc:
                fail(str(exc))
    if not quiet:
        console.print(f"{verb} {len(plan.gone)} track(s) whose files are gone"
                      + (f"; kept {len(plan.labelled)} with labels" if plan.labelled else "")
                      + (" (dry run: nothing changed)" if dry_run else ""), highlight=False)
