"""Writing scan results: many tracks per statement, one track at a time only to refuse a bad one.

A scan of short files finishes hundreds of tracks a second; one upsert, three deletes and three
inserts per track (plus a savepoint) was a measurable part of a clip's cost. ``write_tracks``
writes a whole batch with one ``executemany`` per table inside a savepoint; when the database
refuses a row (a NaN score breaks NOT NULL) it rolls that back and writes track by track, so
the bad track becomes an error row and the others are stored as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tagger.store.score_blobs import encode_scores

if TYPE_CHECKING:
    from tagger.store.rows import TrackResult

# What SQLite (or the sqlite3 module) raises for one bad row, as opposed to a bad database.
BAD_ROW = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
           OverflowError, TypeError, ValueError)

_UPSERT = """INSERT INTO tracks (path_key, path, size, mtime_ns, duration, format, model,
                                 status, error, note, scanned_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(path_key) DO UPDATE SET
               path=excluded.path, size=excluded.size, mtime_ns=excluded.mtime_ns,
               duration=excluded.duration, format=excluded.format, model=excluded.model,
               status=excluded.status, error=excluded.error, note=excluded.note,
               scanned_at=excluded.scanned_at"""
_SEGMENT = ('INSERT INTO segments (track_id, instrument, start, "end", confidence, role)'
            " VALUES (?, ?, ?, ?, ?, ?)")
_INSTRUMENT = ("INSERT INTO track_instruments (track_id, instrument, score, coverage, role)"
               " VALUES (?, ?, ?, ?, ?)")
_SCORES = "INSERT INTO chunk_scores VALUES (?, ?, ?, ?, ?, ?)"
_IN_CHUNK = 500  # ids per "IN (...)": well under SQLite's 32,766 variables


def write_tracks(conn: sqlite3.Connection, rows: Sequence[TrackResult], keys: list[bytes],
                 displays: list[str], now: str) -> list[tuple[TrackResult, str]]:
    """Store ``rows`` (inside the caller's transaction); returns the refused ones with their
    one-line reasons (each stored as an error row instead). ``keys`` / ``displays``: each
    row's path key and printable path."""
    if len(set(keys)) == len(keys):  # a path twice in one batch: the later must win, per track
        conn.execute("SAVEPOINT batch")
        try:
            _write_all(conn, rows, keys, displays, now)
            conn.execute("RELEASE batch")
            return []
        except BAD_ROW:
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
    refused = []
    for row, key, display in zip(rows, keys, displays):
        reason = _write_or_refuse(conn, row, key, display, now)
        if reason is not None:
            refused.append((row, reason))
    return refused


def _track_row(r: TrackResult, key: bytes, display: str, now: str) -> tuple[Any, ...]:
    return (key, display, r.size, r.mtime_ns, r.duration, r.format, r.model, r.status, r.error,
            r.note, now)


def _write_all(conn: sqlite3.Connection, rows: Sequence[TrackResult], keys: list[bytes],
               displays: list[str], now: str) -> None:
    conn.executemany(_UPSERT, [_track_row(r, k, d, now) for r, k, d in zip(rows, keys, displays)])
    ids: dict[bytes, int] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        part = keys[start : start + _IN_CHUNK]
        marks = ", ".join("?" * len(part))
        ids.update((bytes(k), i) for k, i in conn.execute(
            f"SELECT path_key, id FROM tracks WHERE path_key IN ({marks})", part))
        chunk_ids = [ids[k] for k in part]
        for table in ("segments", "track_instruments", "chunk_scores"):
            conn.execute(f"DELETE FROM {table} WHERE track_id IN ({marks})", chunk_ids)
    track_ids = [ids[k] for k in keys]
    conn.executemany(_SEGMENT, [(t, s.instrument, s.start, s.end, s.confidence, s.role)
                                for t, r in zip(track_ids, rows) for s in r.segments])
    conn.executemany(_INSTRUMENT, [(t, i.instrument, i.score, i.coverage, i.role)
                                   for t, r in zip(track_ids, rows) for i in r.instruments])
    conn.executemany(_SCORES, [_scores_row(t, r) for t, r in zip(track_ids, rows)
                               if r.presence is not None])


def _scores_row(track_id: int, r: TrackResult) -> tuple[Any, ...]:
    return (track_id, r.window_s, r.hop_s, json.dumps(r.classes), encode_scores(r.presence),
            encode_scores(r.foreground))


def _write_or_refuse(conn: sqlite3.Connection, r: TrackResult, key: bytes, display: str,
                     now: str) -> str | None:
    """Write one track inside a savepoint; on a refused row, an error row in its place."""
    conn.execute("SAVEPOINT track")
    try:
        _write_one(conn, r, key, display, now)
        reason = None
    except BAD_ROW as exc:
        conn.execute("ROLLBACK TO track")
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        reason = f"could not store its result ({text})"
        error_row = type(r)(path=r.path, size=r.size, mtime_ns=r.mtime_ns, model=r.model,
                            status="error", error=reason, format=r.format)
        _write_one(conn, error_row, key, display, now)
    conn.execute("RELEASE track")
    return reason


def _write_one(conn: sqlite3.Connection, r: TrackResult, key: bytes, display: str,
               now: str) -> None:
    track_id = conn.execute(_UPSERT + " RETURNING id", _track_row(r, key, display, now)
                            ).fetchone()[0]
    for table in ("segments", "track_instruments", "chunk_scores"):
        conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))
    conn.executemany(_SEGMENT, [(track_id, s.instrument, s.start, s.end, s.confidence, s.role)
                                for s in r.segments])
    conn.executemany(_INSTRUMENT, [(track_id, i.instrument, i.score, i.coverage, i.role)
                                   for i in r.instruments])
    if r.presence is not None:
        conn.execute(_SCORES, _scores_row(track_id, r))
