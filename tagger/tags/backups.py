"""What our fields held in a file before tagger first wrote them (table ``tag_backups``).

The backup is taken once, before the *first* write to a file, and kept until
``tagger tag --remove`` has restored it: later writes (a rescan with a new model, say) must not
overwrite it with our own earlier values. A row per field, ``snapshot`` NULL when the file had
nothing there, so "absent" is restored as absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tagger.store.db import Store, now_iso
from tagger.tags.fields import Snapshot


@dataclass(frozen=True)
class Backup:
    """A file's pre-tagger snapshots: field name -> snapshot (None = absent), and their kind."""

    kind: str
    snapshots: dict[str, Snapshot]


def save_backup(store: Store, key: bytes, kind: str, snapshots: dict[str, Snapshot]) -> bool:
    """Record ``snapshots`` unless a backup for this file exists; True when it was recorded.

    All fields of a file go in one transaction, so a backup is whole or absent.
    """
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        exists = conn.execute(
            "SELECT 1 FROM tag_backups WHERE path_key = ? LIMIT 1", (key,)
        ).fetchone()
        if not exists:
            now = now_iso()
            conn.executemany(
                "INSERT INTO tag_backups (path_key, field, kind, snapshot, saved_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(key, name, kind, None if snap is None else json.dumps(snap), now)
                 for name, snap in snapshots.items()],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return not exists


def load_backup(store: Store, key: bytes) -> Backup | None:
    """The backup of the file at ``key``, or None if tagger never wrote to it (or restored it)."""
    rows = store.conn.execute(
        "SELECT field, kind, snapshot FROM tag_backups WHERE path_key = ?", (key,)
    ).fetchall()
    if not rows:
        return None
    kinds = {kind for _f, kind, _s in rows}
    return Backup(
        kind=kinds.pop() if len(kinds) == 1 else "mixed",
        snapshots={f: None if s is None else json.loads(s) for f, _k, s in rows},
    )


def drop_backup(store: Store, key: bytes) -> None:
    """Forget a file's backup (after it has been restored)."""
    store.conn.execute("DELETE FROM tag_backups WHERE path_key = ?", (key,))
