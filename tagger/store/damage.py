"""A damaged store file: recognise SQLite's corruption errors and say what to do, in one line.

A store with a valid header but garbage pages opens fine and fails on the first read that hits a
bad page, anywhere in any command. Every command turns that into the same line (what
``PRAGMA integrity_check`` says, and how to recover) and never writes to the damaged file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tagger.store.errors import StoreDamagedError

# SQLITE_CORRUPT: bad pages; SQLITE_NOTADB: a header that is not SQLite's.
DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying the file is damaged (not locked, full, read-only...)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in DAMAGE_CODES
    return isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc)


def integrity_summary(path: str | os.PathLike[str], lines: int = 2) -> str:
    """The first ``lines`` lines of ``PRAGMA integrity_check``, read through an immutable,
    read-only connection so the check itself cannot change the file."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute(f"PRAGMA integrity_check({int(lines)})").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "; ".join(str(r[0]) for r in rows[:lines]).replace("\n", " ")


def damage_error(path: str | os.PathLike[str]) -> StoreDamagedError:
    """The error every command shows for a damaged store at ``path`` (the file is left alone)."""
    return StoreDamagedError(
        f"the store {os.fsdecode(path)} is damaged (integrity_check: {integrity_summary(path)});"
        f" it was left as it is: restore a backup, or recover it with `sqlite3 {os.fsdecode(path)}"
        " .recover | sqlite3 recovered.db`, or move it away and scan again")
