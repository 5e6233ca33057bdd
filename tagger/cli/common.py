"""Options and helpers shared by every command, so they all behave the same way."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.text import Text

from tagger.config import resolve_db_path
from tagger.printable import printable
from tagger.store import Store, StoreError, damage_error, is_damage
from tagger.store.db import display_path

# Exit codes (DESIGN.md): 0 ok, 1 some tracks failed, 2 usage error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DbOption = Annotated[
    Optional[Path],
    typer.Option("--db", help="SQLite store (default: $TAGGER_DB or the user data dir).",
                 show_default=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or chatter.")]

# No markup, no emoji codes, no highlighting: a string is printed as it is, so a file name like
# "Song [remastered 2011].mp3" or "a :fire: b.mp3" keeps every character. Colour comes only
# from rich Text objects built with styled() (or Text.append), never from parsed markup.
console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs; no text is parsed as markup."""
    return Text.assemble(*parts)


def labelled(label: str, style: str, message: str) -> Text:
    """``label message`` with the label styled and the message made printable."""
    return styled((label, style), " ", printable(message))


def error_line(path: str | bytes, message: str) -> Text:
    """``error PATH: MESSAGE``, the one-line form of a problem with one file."""
    return labelled("error", "red", f"{display_path(path)}: {message}")


def plural(count: int, word: str) -> str:
    """``plural(1, "track")`` -> ``"1 track"``; ``plural(1200, "track")`` -> ``"1,200 tracks"``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def print_line(text: str | Text, *, err: bool = False) -> None:
    """One logical line, left for the terminal to wrap (no hard breaks inside a path)."""
    (err_console if err else console).print(text, soft_wrap=True)


def warn(message: str) -> None:
    print_line(labelled("warning:", "yellow", message), err=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error and exit: the way every command reports a problem."""
    print_line(labelled("error:", "bold red", " ".join(message.split("\n"))), err=True)
    raise typer.Exit(code)


def open_store(db: Path | None, *, must_exist: bool = False, read_only: bool | None = None,
               quiet: bool = False) -> Store:
    """The store for a command; ``read_only=None`` reads a store we may not write (see Store)."""
    path = resolve_db_path(db)
    if must_exist and not path.exists():
        fail(f"no database at {printable(str(path))} (run `tagger scan` first, or pass --db)")
    try:
        store = Store(path, read_only=read_only)
    except StoreError as exc:
        fail(str(exc))
    if store.notice and not quiet:
        print_line(labelled("note:", "yellow", store.notice), err=True)
    return store


@contextmanager
def store_session(db: Path | None, *, must_exist: bool = False, read_only: bool | None = None,
                  quiet: bool = False) -> Iterator[Store]:
    """Open the store for one command and close it after; the one place where SQLite's
    "database disk image is malformed" (at any read, in any command) becomes a one-line
    error with exit 2 instead of a traceback."""
    store = open_store(db, must_exist=must_exist, read_only=read_only, quiet=quiet)
    try:
        yield store
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        fail(str(damage_error(store.path)))
    finally:
        store.close()


def check_output_folder(path: Path | None) -> None:
    """Refuse an output file whose folder does not exist (as cp or tee do), before any work."""
    if path is None:
        return
    folder = path.absolute().parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        fail(f"cannot write {printable(str(path))}: {printable(str(folder))} {what}"
             " (create it first)")


def silence_stdout() -> None:
    """After stdout failed (a closed pipe, a full disk), point it at /dev/null so the
    interpreter's exit-time flush cannot fail a second time with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
