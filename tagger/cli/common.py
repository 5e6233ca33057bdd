"""Options and helpers shared by every command, so they all behave the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console

from tagger.config import resolve_db_path
from tagger.store import Store, StoreError

# Exit codes (DESIGN.md): 0 ok, 1 some tracks failed, 2 usage error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DbOption = Annotated[
    Optional[Path],
    typer.Option("--db", help="SQLite store (default: $TAGGER_DB or the user data dir).",
                 show_default=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or chatter.")]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error and exit: the way every command reports a problem."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_store(db: Path | None, *, must_exist: bool = False) -> Store:
    path = resolve_db_path(db)
    if must_exist and not path.exists():
        fail(f"no database at {path} (run `tagger scan` first, or pass --db)")
    try:
        return Store(path)
    except StoreError as exc:
        fail(str(exc))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
