"""The ``tag_backups`` table's SQL: rows of (path_key, field, kind, snapshot JSON, saved_at).

What the rows mean (taken once before tagger first writes a file, ``=``-fields as facts about
the whole file) is ``tagger.tags.backups``'s; this module only reads and writes them.
"""

from __future__ import annotations

from tagger.store.db import Store, now_iso

BackupRow = tuple[str, str, str | None]  # field, kind, snapshot (JSON text, None = absent)


def save_backup_rows(store: Store, files: list[tuple[bytes, list[tuple[str, str, str | None]]]]
                     ) -> int:
    """In one transaction, insert each file's rows unless it has field rows already; returns
    how many files got them (a file that has a backup keeps its older, truly original one)."""
    saved = 0
    now = now_iso()
    with store.atomic():
        for key, rows in files:
            if store.conn.execute("SELECT 1 FROM tag_backups WHERE path_key = ? AND field NOT"
                                  " LIKE '=%' LIMIT 1", (key,)).fetchone():
                continue
            store.conn.executemany(
                "INSERT INTO tag_backups (path_key, field, kind, snapshot, saved_at)"
                " VALUES (?, ?, ?, ?, ?)", [(key, f, k, s, now) for f, k, s in rows])
            saved += 1
    return saved


def backup_rows(store: Store, key: bytes) -> list[BackupRow]:
    """The rows of the file at ``key`` (empty when it has no backup)."""
    return store.conn.execute(
        "SELECT field, kind, snapshot FROM tag_backups WHERE path_key = ?", (key,)).fetchall()


def delete_backup_rows(store: Store, key: bytes) -> None:
    store.conn.execute("DELETE FROM tag_backups WHERE path_key = ?", (key,))
