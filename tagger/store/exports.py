"""What ``tagger export`` (and ``show --json``) read: the rows of tracks, instruments, segments.

SQL only here (the export format itself, the records, is ``tagger.export``'s). Scores are
clamped and rounded in SQL: per-value Python calls were a third of an export's time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tagger.store.db import Store

SCORE_DECIMALS = 4  # a ranking score; more digits are noise from float16 chunk scores
TIME_DECIMALS = 3  # milliseconds

Row = tuple[Any, ...]


def _unit_sql(column: str) -> str:
    """SQL clamping ``column`` to [0, 1] (NULL, which is also how SQLite stores NaN, -> 0) and
    rounding it: done in C, because per-value Python calls were a third of an export's time."""
    return f"round(max(0.0, min(1.0, ifnull({column}, 0.0))), {SCORE_DECIMALS})"


INSTRUMENT_COLUMNS = (f"instrument, {_unit_sql('score')}, {_unit_sql('coverage')}, role")
SEGMENT_COLUMNS = (f'instrument, round(start, {TIME_DECIMALS}), round("end", {TIME_DECIMALS}),'
                   f" {_unit_sql('confidence')}, role")


def model_classes(store: Store, *, sample: int = 50) -> dict[str | None, list[str]]:
    """Per model id, the classes it knows, to fill in a class missing from a track's rows.

    The scanner writes one row per class for every track and records the model's class list
    with its chunk scores, so a few tracks per model tell the whole list: reading ``sample``
    tracks' rows (plus one class list) costs milliseconds, where a ``DISTINCT`` over every row
    of a 100,000-track store took seconds. ``instruments`` then lists every class of the model
    that scanned a track even when that track's own rows are incomplete (an older write).
    """
    classes: dict[str | None, list[str]] = {}
    models = [row[0] for row in store.conn.execute("SELECT DISTINCT model FROM tracks")]
    for model in models:
        ids = [row[0] for row in store.conn.execute(
            "SELECT id FROM tracks WHERE model IS ? AND status = 'ok' LIMIT ?", (model, sample))]
        if not ids:
            continue
        marks = ", ".join("?" * len(ids))
        names = {row[0] for row in store.conn.execute(
            f"SELECT DISTINCT instrument FROM track_instruments WHERE track_id IN ({marks})", ids)}
        listed = store.conn.execute(
            f"SELECT classes FROM chunk_scores WHERE track_id IN ({marks}) LIMIT 1", ids).fetchone()
        if listed:
            names.update(json.loads(listed[0]))
        classes[model] = sorted(names)
    return classes


def track_rows(store: Store, track_id: int) -> tuple[list[Row], list[Row], list[str]]:
    """One track's instrument rows, segment rows and its model's class order (may be empty)."""
    instruments = store.conn.execute(
        f"SELECT {INSTRUMENT_COLUMNS} FROM track_instruments WHERE track_id = ?",
        (track_id,)).fetchall()
    segments = store.conn.execute(
        f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE track_id = ?", (track_id,)).fetchall()
    # The chunk-score row records the model's class order; the rows themselves cover the rest.
    row = store.conn.execute("SELECT classes FROM chunk_scores WHERE track_id = ?",
                             (track_id,)).fetchone()
    return instruments, segments, json.loads(row[0]) if row else []


def export_rows(store: Store, *, status: str | None = None
                ) -> Iterator[tuple[dict[str, Any], list[Row], list[Row]]]:
    """Every track (or those with ``status``), in id order, with its instrument and segment rows.

    Three cursors ordered by track id, merged here: each table read once in index order, memory
    at one track whatever the library size, 3 statements in all instead of one per track.
    """
    conn = store.conn
    track_sql = ("SELECT id, path, duration, model, status, error FROM tracks"
                 + (" WHERE status = ?" if status else "") + " ORDER BY id")
    tracks = conn.execute(track_sql, (status,) if status else ())
    inst_cur = conn.execute(
        f"SELECT track_id, {INSTRUMENT_COLUMNS} FROM track_instruments ORDER BY track_id")
    seg_cur = conn.execute(f"SELECT track_id, {SEGMENT_COLUMNS} FROM segments ORDER BY track_id")
    inst_next = next(inst_cur, None)
    seg_next = next(seg_cur, None)
    for tid, path, duration, model, track_status, error in tracks:
        inst_rows: list[Row] = []
        while inst_next is not None and inst_next[0] <= tid:
            if inst_next[0] == tid:
                inst_rows.append(inst_next[1:])
            inst_next = next(inst_cur, None)
        seg_rows: list[Row] = []
        while seg_next is not None and seg_next[0] <= tid:
            if seg_next[0] == tid:
                seg_rows.append(seg_next[1:])
            seg_next = next(seg_cur, None)
        track = {"path": path, "duration": duration, "model": model, "status": track_status,
                 "error": error}
        yield track, inst_rows, seg_rows
