"""The SQL of human labels (tables ``labels`` and ``label_skips``) and of what the labeling page
reads (tracks with their chunk scores). What labels mean, and the queue, are ``tagger.label``'s."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tagger.store.db import Store


def replace_labels(store: Store, *, track_id: int, start: float, end: float,
                   roles: Mapping[str, str], when: str) -> None:
    """One clip's roles, replacing earlier labels of the same clip and instruments (call inside
    ``store.atomic()``: a submit is all its instruments or none)."""
    for instrument, role in roles.items():
        store.conn.execute(
            "DELETE FROM labels WHERE track_id = ? AND abs(start - ?) < 0.0005"
            " AND instrument = ?", (track_id, start, instrument))
        store.conn.execute(
            'INSERT INTO labels (track_id, start, "end", instrument, role, labeled_at)'
            " VALUES (?, ?, ?, ?, ?, ?)", (track_id, start, end, instrument, role, when))


def insert_skip(store: Store, *, track_id: int, start: float, end: float, when: str) -> None:
    store.conn.execute(
        'INSERT INTO label_skips (track_id, start, "end", skipped_at) VALUES (?, ?, ?, ?)',
        (track_id, start, end, when))


def label_counts(store: Store) -> tuple[int, int]:
    """(clips labelled, clips skipped)."""
    labeled = store.conn.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT track_id, start FROM labels)").fetchone()[0]
    skipped = store.conn.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT track_id, start FROM label_skips)").fetchone()[0]
    return int(labeled), int(skipped)


def done_clips(store: Store) -> Iterator[tuple[int, float]]:
    """(track_id, start) of every clip labelled or skipped."""
    yield from store.conn.execute(
        "SELECT track_id, start FROM labels UNION SELECT track_id, start FROM label_skips")


def label_rows(store: Store) -> Iterator[tuple[Any, ...]]:
    """(track_id, path, start, end, instrument, role, labeled_at), by path, time, instrument."""
    yield from store.conn.execute(
        'SELECT l.track_id, t.path, l.start, l."end", l.instrument, l.role, l.labeled_at'
        " FROM labels l JOIN tracks t ON t.id = l.track_id"
        " ORDER BY t.path, l.start, l.instrument")


def labels_by_clip(store: Store) -> Iterator[tuple[Any, ...]]:
    """(track_id, path_key, path, start, end, instrument, role) ordered by clip, oldest label
    first within a clip (so the newest of an instrument comes last)."""
    yield from store.conn.execute(
        'SELECT l.track_id, t.path_key, t.path, l.start, l."end", l.instrument, l.role'
        " FROM labels l JOIN tracks t ON t.id = l.track_id"
        ' ORDER BY l.track_id, l.start, l."end", l.labeled_at, l.id')


def scored_tracks(store: Store) -> Iterator[tuple[Any, ...]]:
    """(id, path_key, path, duration, window_s, hop_s, classes JSON, presence blob, foreground
    blob) of every ok track with chunk scores, by id: what the labeling queue is built from."""
    yield from store.conn.execute(
        "SELECT t.id, t.path_key, t.path, t.duration, c.window_s, c.hop_s, c.classes,"
        " c.presence, c.foreground FROM tracks t JOIN chunk_scores c ON c.track_id = t.id"
        " WHERE t.status = 'ok' ORDER BY t.id")
