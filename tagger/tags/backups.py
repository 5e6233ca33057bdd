"""What our fields held in a file before tagger first wrote them (rows: ``store.tag_backups``).

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

from tagger.store.db import Store
from tagger.store.tag_backups import backup_rows, delete_backup_rows, save_backup_rows
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
    files = []
    for key, kind, snapshots, had_tag in backups:
        if not had_tag:
            snapshots = {**snapshots, NO_TAG: None}
        files.append((key, [(name, kind, None if snap is None else json.dumps(snap))
                            for name, snap in snapshots.items()]))
    return save_backup_rows(store, files)


def load_backup(store: Store, key: bytes) -> Backup | None:
    """The backup of the file at ``key``, or None if tagger never wrote to it (or restored it)."""
    rows = backup_rows(store, key)
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
    delete_backup_rows(store, key)
