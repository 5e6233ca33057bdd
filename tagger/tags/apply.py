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
file's, so the next ``tagger scan`` sees the file as unchanged and does not re-analyse it. Files
are replaced a batch at a time and the batch is recorded right after; so that a ``kill -9``
between the two cannot make the next run refuse those files as "changed since the scan", the
size and mtime each new file will have are noted in the store (synced) before any replace, and
a file found in exactly that state is tagger's own write: accepted, and recorded then.
Problems are outcomes (``status="error"`` with a one-line reason), never exceptions: one bad
file does not stop a run of ten thousand.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from tagger.store.db import Store, display_path, path_key
from tagger.store.lookups import instrument_summary, track_id_for_key
from tagger.tags.backups import Backup, drop_backup, load_backup, save_backups
from tagger.tags.fields import FIELDS, INSTRUMENTS, INSTRUMENTS_LEAD, INSTRUMENTS_MODEL
from tagger.tags.files import (
    FieldChange, FileState, FileUpdate, PendingWrite, commit_writes, discard, prepare_update,
    read_fields, remove_stale_temps,
)
from tagger.tags.formats import TagError, out_of_room
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions

Status = Literal["changed", "unchanged", "skipped", "error"]
# A track id, a ``tracks`` row, a query hit (.track_id), a scan's TrackResult (.path) or a path.
TrackRef = int | Mapping[str, Any] | str | bytes | os.PathLike[str] | Any
BATCH = 32  # files committed together: their fsyncs share journal commits (see commit_writes)
WORKERS = 4  # threads preparing files: the work is mostly waiting on the disk


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
    rows = instrument_summary(store, track_id)
    present = sorted(name for name, coverage, _role in rows if coverage > 0)
    lead = sorted(name for name, coverage, role in rows if coverage > 0 and role == "foreground")
    return {
        INSTRUMENTS.name: present,
        INSTRUMENTS_LEAD.name: lead,
        INSTRUMENTS_MODEL.name: [model] if model else [],
    }


def _track_id(store: Store, ref: TrackRef) -> int | None:
    """The id of a track given as id, row, query hit, scan result (``.path``) or path."""
    if isinstance(ref, int):
        return ref
    if isinstance(ref, Mapping):
        return int(ref["id"])
    if hasattr(ref, "track_id"):
        return int(ref.track_id)
    if hasattr(ref, "path"):  # a TrackResult: its path is already the resolved, stored one
        key = path_key(ref.path)
    else:
        key = path_key(os.path.realpath(ref))
    return track_id_for_key(store, key)


def tag_tracks(
    store: Store, tracks: Iterable[TrackRef], *, dry_run: bool = False, remove: bool = False,
    options: TagOptions = DEFAULT_OPTIONS,
) -> Iterator[TagOutcome]:
    """Write our fields into each track's file (``remove``: take them out again), lazily.

    ``tracks`` are track ids, ``tracks`` rows (dicts with ``id``), query hits (``.track_id``),
    the scan's ``TrackResult`` objects (``.path``) or file paths; each is re-read from the
    store, so sizes and mtimes just written by a scan are honoured.
    ``dry_run`` computes and returns the changes without touching files or the store.
    Outcomes come in input order (a track listed twice is done once), a batch of ``BATCH`` at a
    time: the batch's files are replaced together, then recorded in one store transaction.
    ``remove`` restores what the fields held before tagger first wrote them (the backup taken
    then; a file that had no tag at all gets its tag-less bytes back). Without a backup (a
    store that never wrote this file) it deletes the fields only when ``INSTRUMENTS_MODEL``
    marks them as tagger's, so a user's own INSTRUMENTS survives.
    ``options``: how several values are laid out (joined, the default, or a list) and the
    version of ID3 tags tagger creates (:class:`~tagger.tags.options.TagOptions`).
    """
    seen: set[int] = set()
    cleaned: set[str] = set()
    batch: list[_Item] = []
    done: list[_Item] = []
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tagger-tag") as pool:
        try:
            for ref in tracks:
                track_id = _track_id(store, ref)
                if track_id is None:
                    name = display_path(getattr(ref, "path", ref))
                    batch.append(_Item(TagOutcome(name, None, "error", dry_run=dry_run,
                                                  error="not in the store (scan it first)"), b""))
                elif track_id in seen:
                    continue
                else:
                    seen.add(track_id)
                    batch.append(_plan(store, track_id, dry_run=dry_run, remove=remove,
                                       cleaned=cleaned, options=options))
                if len(batch) >= BATCH:
                    done, batch = batch, []
                    yield from _finish(store, done, pool)
            done, batch = batch, []
            yield from _finish(store, done, pool)
        finally:
            # Stopped early (Ctrl-C, an error, the caller closed us): temp files of
            # uncommitted writes go; a committed one's temp name no longer exists.
            discard([item.pending for item in done + batch if item.pending is not None])


@dataclass
class _Item:
    """A track on its way: its outcome so far, its file work, and its pending write."""

    outcome: TagOutcome
    key: bytes
    job: Callable[[_Item], None] | None = None  # the file work, run on a worker thread
    pending: PendingWrite | None = None
    backup: FileState | None = None  # the file's state, to save before the write lands
    drop_backup: bool = False  # remove mode: the backup is restored once this write lands
    learn: tuple[int, int] | None = None  # unwritten, but as our killed write left it: record


def _plan(store: Store, track_id: int, *, dry_run: bool, remove: bool,
          cleaned: set[str], options: TagOptions = DEFAULT_OPTIONS) -> _Item:
    """Read what the track needs from the store (main thread: the connection is not shared)."""
    row = store.track(track_id)
    if row is None:
        return _Item(TagOutcome(f"track #{track_id}", track_id, "error",
                                error="track is not in the store", dry_run=dry_run), b"")
    key = bytes(row["path_key"])
    size, mtime_ns, model, status, error = (
        row[c] for c in ("size", "mtime_ns", "model", "status", "error"))
    path = os.fsdecode(key)
    if not dry_run:
        folder = os.path.dirname(path)
        if folder not in cleaned:
            cleaned.add(folder)
            remove_stale_temps(folder)
    item = _Item(TagOutcome(display_path(key), track_id, "unchanged", dry_run=dry_run), key)
    expected = (size, mtime_ns)
    own = store.expected_write(key)
    backup = load_backup(store, key) if remove else None
    if status != "ok" and backup is None:
        # A failed scan: nothing of ours to write, and (no backup) nothing of ours to remove.
        item.outcome.status = "skipped"
        item.outcome.error = f"not analysed (scan failed: {error})" if error else "not analysed"
    elif remove:
        item.drop_backup = backup is not None and not dry_run
        item.job = partial(_remove_job, path=path, backup=backup, expected=expected, own=own,
                           options=options)
    else:
        item.job = partial(_write_job, path=path, values=desired_fields(store, track_id, model),
                           expected=expected, own=own, options=options)
    return item


def _write_job(item: _Item, *, path: str, values: dict[str, list[str]],
               expected: tuple[int | None, int | None], own: tuple[int, int] | None,
               options: TagOptions) -> None:
    def keep(state: FileState) -> None:
        item.backup = state

    update, item.pending = prepare_update(path, values=values, expected=expected, own_write=own,
                                          dry_run=item.outcome.dry_run, before_write=keep,
                                          options=options)
    _note(item, update)


def _note(item: _Item, update: FileUpdate) -> None:
    """The job's result on the outcome; a file our killed run wrote is learnt even unchanged."""
    item.outcome.changes = update.changes
    if update.changes:
        item.outcome.status = "changed"
    if update.own_write and item.pending is None and not item.outcome.dry_run:
        item.learn = (update.size, update.mtime_ns)


def _remove_job(item: _Item, *, path: str, backup: Backup | None,
                expected: tuple[int | None, int | None], own: tuple[int, int] | None,
                options: TagOptions) -> None:
    if backup is None and not read_fields(path, options).values[INSTRUMENTS_MODEL.name]:
        return  # no backup and no model stamp: whatever INSTRUMENTS holds, we did not write it
    restore = {f.name: (backup.snapshots.get(f.name) if backup else None) for f in FIELDS}
    update, item.pending = prepare_update(
        path, restore=restore, restore_kind=backup.kind if backup else None,
        restore_no_tag=backup is not None and not backup.had_tag,
        expected=expected, own_write=own, dry_run=item.outcome.dry_run, options=options,
    )
    _note(item, update)


def _run_job(item: _Item) -> None:
    """Worker thread: check, read, write and verify one file's temporary copy."""
    try:
        assert item.job is not None
        item.job(item)
    except (TagError, OSError) as exc:
        item.outcome.status, item.outcome.error = "error", _one_line(exc)
        item.drop_backup = False
        item.learn = None


def _finish(store: Store, items: list[_Item], pool: ThreadPoolExecutor) -> Iterator[TagOutcome]:
    """Prepare the batch's files in parallel, then: backups, renames, store update, report.

    File work overlaps on worker threads (most of it is waiting on the disk); everything
    touching the store stays on this thread, in two transactions per batch.
    """
    list(pool.map(_run_job, [item for item in items if item.job is not None]))
    writes = [item for item in items if item.pending is not None]
    backups = [item for item in writes if item.backup is not None]
    if backups:
        try:  # the backups must be in the store before any original is replaced
            save_backups(store, [(i.key, i.backup.kind, i.backup.snapshots, i.backup.had_tag)
                                 for i in backups])
        except sqlite3.Error as exc:
            discard([item.pending for item in writes])
            error = out_of_room(exc) or TagError(
                f"could not save the backup of the old values ({exc}); file left as it was")
            for item in writes:
                item.pending = None
                item.outcome.status = "error"
                item.outcome.error = str(error)
            writes = []
    def note(files: list[tuple[str, int, int]]) -> None:
        try:
            store.expect_writes([(path_key(path), size, mtime) for path, size, mtime in files])
        except sqlite3.Error as exc:
            raise out_of_room(exc) or TagError(
                f"could not note the write in the store ({exc}); file left as it was") from None

    pendings = [item.pending for item in writes]
    for item, error in zip(writes, commit_writes(pendings, before_replace=note)):
        if error is not None:
            item.outcome.status, item.outcome.error = "error", str(error)
            item.drop_backup = False
    learnt = [(i.outcome.track_id, i.key, i.pending.update.size, i.pending.update.mtime_ns)
              for i in writes if i.pending.update.written]
    learnt += [(i.outcome.track_id, i.key, *i.learn) for i in items if i.learn is not None]
    if learnt or any(item.drop_backup for item in items):
        try:
            with store.atomic():
                store.learn_writes(learnt)
                for item in items:
                    if item.drop_backup:
                        drop_backup(store, item.key)
        except sqlite3.Error as exc:  # the files are written; their notes let a rerun learn them
            reason = out_of_room(exc) or exc
            for item in writes:
                if item.pending.update.written:
                    item.outcome.status = "error"
                    item.outcome.error = (f"written, but the store could not record it ({reason});"
                                          " the next tag run will")
    for item in items:
        item.pending = None  # committed or failed: nothing left to discard
        yield item.outcome


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return " ".join(str(exc).split()) or type(exc).__name__


def summarize(outcomes: Iterable[TagOutcome]) -> dict[str, int]:
    """Counts per status (changed, unchanged, skipped, error), for a run's last line."""
    counts = {"changed": 0, "unchanged": 0, "skipped": 0, "error": 0}
    for o in outcomes:
        counts[o.status] += 1
    return counts
