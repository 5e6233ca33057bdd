"""Human labels and skips in the store: write (one transaction per submit), count, export.

Labels are stored by time (track, start, end, instrument, role), not by clip id, so they mean
the same thing whatever model or clip grid comes later, and the trainer can read them directly.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from tagger.label.clips import clip_key
from tagger.store import Store, StoreError
from tagger.store.db import now_iso
from tagger.store.labels import (done_clips, insert_skip, label_counts, label_rows,
                                 replace_labels)

LABEL_ROLES: tuple[str, ...] = ("foreground", "background", "none")
EXPORT_COLUMNS: tuple[str, ...] = (
    "track_id", "path", "start", "end", "instrument", "role", "labeled_at",
)


@dataclass(frozen=True)
class LabelCounts:
    """Clips labelled and skipped so far (all sessions: the counter survives restarts)."""

    labeled: int
    skipped: int


@contextmanager
def _immediate(store: Store) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on the store's autocommit connection; rollback on error.

    A submit is all its instruments or none of them, so a crash never leaves half a clip.
    """
    try:
        with store.atomic():
            yield
    except sqlite3.OperationalError as exc:  # locked, read-only, disk full: one line
        raise StoreError(f"could not write labels to {store.path}: {exc}") from None


def record_labels(
    store: Store, *, track_id: int, start: float, end: float, roles: Mapping[str, str]
) -> None:
    """Store one clip's roles, replacing earlier labels of the same clip and instruments.

    Replacing (rather than adding) makes a double submit harmless and lets a person correct
    themselves by labeling the clip again.
    """
    bad = {role for role in roles.values() if role not in LABEL_ROLES}
    if bad:
        raise ValueError(f"unknown role(s) {sorted(bad)}; use {', '.join(LABEL_ROLES)}")
    when = now_iso()
    with _immediate(store):
        replace_labels(store, track_id=track_id, start=start, end=end, roles=roles, when=when)


def record_skip(store: Store, *, track_id: int, start: float, end: float) -> None:
    """Remember that a person could not tell: the clip is not offered again."""
    with _immediate(store):
        insert_skip(store, track_id=track_id, start=start, end=end, when=now_iso())


def counts(store: Store) -> LabelCounts:
    return LabelCounts(*label_counts(store))


def done_keys(store: Store) -> set[tuple[int, int]]:
    """``clip_key``s of every clip labelled or skipped: the queue leaves these out."""
    return {clip_key(tid, start) for tid, start in done_clips(store)}


def iter_labels(store: Store) -> Iterator[dict[str, Any]]:
    """Every label row with its track's display path, in track/time/instrument order."""
    for row in label_rows(store):
        yield dict(zip(EXPORT_COLUMNS, row))


def export_csv(store: Store, out: TextIO) -> int:
    """Write all labels as CSV with a header; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in iter_labels(store):
        writer.writerow(row)
        n += 1
    return n


def export_jsonl(store: Store, out: TextIO) -> int:
    """Write all labels as JSON lines; returns the number of rows."""
    n = 0
    for row in iter_labels(store):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
