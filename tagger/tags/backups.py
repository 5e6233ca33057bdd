"""What our fields held in a file before tagger first wrote them (table ``tag_backups``).

The backup is taken once, before the *first* write to a file, and kept until
``tagger tag --remove`` has restored it: later writes (a rescan with a new model, say) must not
overwrite it with our own earlier values. A row per field, ``snapshot`` NULL when the file had
nothing there, so "absent" is restored as absent. Rows whose ``field`` starts with ``=`` are
facts about the whole file, not fields: ``=no-tag`` says it had no tag at all (an MP3 without
ID3, a WAV without an ID3 chunk), so removing our fields removes the tag too.
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
    had_tag: bool = True


NO_TAG = "=no-tag"


def save_backups(store: Store,
                 backups: list[tuple[bytes, str, dict[str, Snapshot], bool]]) -> int:
    """Record each ``(path_key, kind, snapshots, had_tag)`` unless that file has a backup already.

    One transaction for all, so a file's backup is whole or absent; returns how many files
    got one (a file that already has a backup keeps its older, truly original one).
    """
    conn = store.conn
    saved = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = now_iso()
        for key, kind, snapshots, had_tag in backups:
            if conn.execute("SELECT 1 FROM tag_backups WHERE path_key = ? AND field NOT LIKE"
                            " '=%' LIMIT 1", (key,)).fetchone():
                continue
            if not had_tag:
                snapshots = {**snapshots, NO_TAG: None}
            conn.executemany(
                "INSERT INTO tag_backups (path_key, field, kind, snapshot, saved_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(key, name, kind, None if snap is None else json.dumps(snap), now)
                 for name, snap in snapshots.items()],
            )
            saved += 1
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself on some errors (disk full)
            conn.execute("ROLLBACK")
        raise
    return saved


def load_backup(store: Store, key: bytes) -> Backup | None:
    """The backup of the file at ``key``, or None if tagger never wrote to it (or restored it)."""
    rows = store.conn.execute(
        "SELECT field, kind, snapshot FROM tag_backups WHERE path_key = ?", (key,)
    ).fetchall()
    fields = [(f, k, s) for f, k, s in rows if not f.startswith("=")]
    if not fields:
        return None
    kinds = {kind for _f, kind, _s in fields}
    return Backup(
        kind=kinds.pop() if len(kinds) == 1 else "mixed",
        snapshots={f: None if s is None else json.loads(s) for f, _k, s in fields},
        had_tag=not any(f == NO_TAG for f, _k, _s in rows),
    )


def drop_backup(store: Store, key: bytes) -> None:
    """Forget a file's backup (after it has been restored)."""
    store.conn.execute("DELETE FROM tag_backups WHERE path_key = ?", (key,))
