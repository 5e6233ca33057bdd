"""Write (or remove) the store's answers into tracks' files: the API behind ``tagger tag`` and
``tagger scan --write-tags``.

>>> for outcome in tag_tracks(store, [track_id, ...]):          # doctest: +SKIP
...     print(outcome.path, outcome.status, outcome.error or "")

What a track gets, from its ``track_instruments`` rows:

- ``INSTRUMENTS``: every instrument with ``coverage > 0`` (present somewhere in the track),
- ``INSTRUMENTS_LEAD``: those of them whose role is ``foreground``,
- ``INSTRUMENTS_MODEL``: the track's ``model`` (name-version, e.g. ``tagger-as-0.1``).

Lists are alphabetical, so re-tagging after a rescan that found the same instruments finds
nothing to change and leaves the file alone. An empty list removes the field.

After a successful write the track's ``size`` and ``mtime_ns`` in the store are set to the new
file's, so the next ``tagger scan`` sees the file as unchanged and does not re-analyse it.
Problems are outcomes (``status="error"`` with a one-line reason), never exceptions: one bad
file does not stop a run of ten thousand.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tagger.store.db import Store, display_path
from tagger.tags.backups import drop_backup, load_backup, save_backup
from tagger.tags.fields import FIELDS, INSTRUMENTS, INSTRUMENTS_LEAD, INSTRUMENTS_MODEL
from tagger.tags.files import FieldChange, FileState, read_fields, remove_stale_temps, update_file
from tagger.tags.formats import TagError

Status = Literal["changed", "unchanged", "skipped", "error"]
TrackRef = int | Mapping[str, Any] | Any  # a track id, a ``tracks`` row, or a hit with .track_id


@dataclass
class TagOutcome:
    """What happened to one track's file.

    ``status``: ``changed`` (written; in a dry run: would be written), ``unchanged`` (the file
    already says this), ``skipped`` (nothing to write: the scan of this track failed) or
    ``error`` (``error`` says why; the file is as it was).
    """

    path: str
    track_id: int | None
    status: Status
    changes: list[FieldChange] = field(default_factory=list)
    error: str | None = None
    dry_run: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "error"


def desired_fields(store: Store, track_id: int, model: str | None) -> dict[str, list[str]]:
    """Our fields' values for a track, from its per-track instrument summary in the store."""
    rows = store.conn.execute(
        "SELECT instrument, coverage, role FROM track_instruments WHERE track_id = ?",
        (track_id,),
    ).fetchall()
    present = sorted(name for name, coverage, _role in rows if coverage > 0)
    lead = sorted(name for name, coverage, role in rows if coverage > 0 and role == "foreground")
    return {
        INSTRUMENTS.name: present,
        INSTRUMENTS_LEAD.name: lead,
        INSTRUMENTS_MODEL.name: [model] if model else [],
    }


def _track_id(ref: TrackRef) -> int:
    if isinstance(ref, int):
        return ref
    if isinstance(ref, Mapping):
        return int(ref["id"])
    return int(ref.track_id)


def tag_tracks(
    store: Store, tracks: Iterable[TrackRef], *, dry_run: bool = False, remove: bool = False
) -> Iterator[TagOutcome]:
    """Write our fields into each track's file (``remove``: take them out again), lazily.

    ``tracks`` are track ids, ``tracks`` rows (dicts with ``id``) or query hits (``.track_id``);
    each is re-read from the store, so sizes and mtimes just written by a scan are honoured.
    ``dry_run`` computes and returns the changes without touching files or the store.
    ``remove`` restores what the fields held before tagger first wrote them (the backup taken
    then). Without a backup (a store that never wrote this file) it deletes the fields only
    when ``INSTRUMENTS_MODEL`` marks them as tagger's, so a user's own INSTRUMENTS survives.
    """
    cleaned: set[str] = set()
    for ref in tracks:
        track_id = _track_id(ref)
        row = store.conn.execute(
            "SELECT path_key, size, mtime_ns, model, status, error FROM tracks WHERE id = ?",
            (track_id,),
        ).fetchone()
        if row is None:
            yield TagOutcome(str(ref), track_id, "error", error="track is not in the store")
            continue
        key = bytes(row[0])
        path = os.fsdecode(key)
        if not dry_run:
            folder = os.path.dirname(path)
            if folder not in cleaned:
                cleaned.add(folder)
                remove_stale_temps(folder)
        outcome = TagOutcome(display_path(key), track_id, "unchanged", dry_run=dry_run)
        try:
            if remove:
                _remove_one(store, track_id, key, path, row, outcome)
            else:
                _write_one(store, track_id, key, path, row, outcome)
        except TagError as exc:
            outcome.status, outcome.error = "error", str(exc)
        yield outcome


def _write_one(store: Store, track_id: int, key: bytes, path: str, row: tuple[Any, ...],
               outcome: TagOutcome) -> None:
    _key, size, mtime_ns, model, status, error = row
    if status != "ok":
        outcome.status = "skipped"
        outcome.error = f"not analysed (scan failed: {error})" if error else "not analysed"
        return

    def backup(state: FileState) -> None:
        save_backup(store, key, state.kind, state.snapshots)

    update = update_file(
        path, values=desired_fields(store, track_id, model), expected=(size, mtime_ns),
        dry_run=outcome.dry_run, before_write=backup,
    )
    outcome.changes = update.changes
    if update.changes:
        outcome.status = "changed"
    if update.written:
        store.conn.execute(
            "UPDATE tracks SET size = ?, mtime_ns = ? WHERE id = ?",
            (update.size, update.mtime_ns, track_id),
        )


def _remove_one(store: Store, track_id: int, key: bytes, path: str, row: tuple[Any, ...],
                outcome: TagOutcome) -> None:
    _key, size, mtime_ns, _model, _status, _error = row
    backup = load_backup(store, key)
    if backup is None and not read_fields(path).values[INSTRUMENTS_MODEL.name]:
        return  # no backup and no model stamp: whatever INSTRUMENTS holds, we did not write it
    restore = {f.name: (backup.snapshots.get(f.name) if backup else None) for f in FIELDS}
    update = update_file(
        path, restore=restore, restore_kind=backup.kind if backup else None,
        expected=(size, mtime_ns), dry_run=outcome.dry_run,
    )
    outcome.changes = update.changes
    if update.changes:
        outcome.status = "changed"
    if outcome.dry_run:
        return
    with _transaction(store):
        if update.written:
            store.conn.execute(
                "UPDATE tracks SET size = ?, mtime_ns = ? WHERE id = ?",
                (update.size, update.mtime_ns, track_id),
            )
        if backup is not None:
            drop_backup(store, key)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT on the store's autocommit connection, rolled back on error."""

    def __init__(self, store: Store):
        self.conn = store.conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def summarize(outcomes: Iterable[TagOutcome]) -> dict[str, int]:
    """Counts per status (changed, unchanged, skipped, error), for a run's last line."""
    counts = {"changed": 0, "unchanged": 0, "skipped": 0, "error": 0}
    for o in outcomes:
        counts[o.status] += 1
    return counts
