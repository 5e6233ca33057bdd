"""The export format (DESIGN.md, "Export format"): one JSON object per track, a contract.

``{"path", "duration", "model", "status", "instruments": {every class: {score, coverage,
role}}, "segments": [{instrument, start, end, confidence, role}]}``; failed tracks add
``"error"`` and have empty ``instruments`` and ``segments``.

Streaming: three cursors (tracks, their instrument rows, their segments), all ordered by track id,
merged in Python. Each table is read once in index order, so memory stays at one track whatever
the library size, and there is no query per track (3 statements in all, not 200,000).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from tagger.store.db import Store

__all__ = ["export_tracks", "track_record", "write_jsonl", "write_jsonl_file", "model_classes"]

SCORE_DECIMALS = 4  # a ranking score; more digits are noise from float16 chunk scores
TIME_DECIMALS = 3  # milliseconds


def _unit(value: float | None) -> float:
    """Clamp to [0, 1] (the contract), NaN or missing -> 0."""
    if value is None or not math.isfinite(value):
        return 0.0
    return round(min(1.0, max(0.0, float(value))), SCORE_DECIMALS)


def _seconds(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), TIME_DECIMALS)


def model_classes(store: Store) -> dict[str | None, list[str]]:
    """Per model id, the classes its tracks have rows for (the scanner writes one per class).

    Used to fill in a class missing from a track's rows, so ``instruments`` always lists every
    class of the model that scanned it, even for tracks written by an older or partial scan.
    """
    classes: dict[str | None, list[str]] = {}
    rows = store.conn.execute(
        "SELECT DISTINCT t.model, ti.instrument FROM track_instruments ti"
        " JOIN tracks t ON t.id = ti.track_id ORDER BY t.model, ti.instrument"
    )
    for model, instrument in rows:
        classes.setdefault(model, []).append(instrument)
    return classes


def _record(
    track: dict[str, Any],
    instrument_rows: list[tuple[str, float, float, str | None]],
    segment_rows: list[tuple[str, float, float, float, str]],
    classes: list[str],
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": track["path"],
        "duration": _seconds(track["duration"]),
        "model": track["model"],
        "status": track["status"],
    }
    if track["status"] != "ok":
        record["error"] = track["error"] or "unknown error"
        record["instruments"] = {}
        record["segments"] = []
        return record
    by_name = {name: (score, coverage, role) for name, score, coverage, role in instrument_rows}
    instruments: dict[str, Any] = {}
    for name in sorted(set(classes) | set(by_name)):  # one stable order, export or show
        score, coverage, role = by_name.get(name, (0.0, 0.0, None))
        instruments[name] = {"score": _unit(score), "coverage": _unit(coverage), "role": role}
    record["instruments"] = instruments
    record["segments"] = [
        {"instrument": name, "start": _seconds(start), "end": _seconds(end),
         "confidence": _unit(confidence), "role": role}
        for name, start, end, confidence, role in sorted(segment_rows, key=lambda s: (s[1], s[0]))
    ]
    return record


def track_record(store: Store, track: dict[str, Any]) -> dict[str, Any]:
    """The export record of one track row (as ``Store.find_track`` returns it)."""
    tid = track["id"]
    instruments = store.conn.execute(
        "SELECT instrument, score, coverage, role FROM track_instruments WHERE track_id = ?"
        " ORDER BY instrument", (tid,)).fetchall()
    segments = store.conn.execute(
        'SELECT instrument, start, "end", confidence, role FROM segments WHERE track_id = ?',
        (tid,)).fetchall()
    # The chunk-score row records the model's class order; the rows themselves cover the rest.
    row = store.conn.execute("SELECT classes FROM chunk_scores WHERE track_id = ?", (tid,)).fetchone()
    classes = json.loads(row[0]) if row else []
    return _record(track, instruments, segments, classes)


def export_tracks(store: Store, *, status: str | None = None) -> Iterator[dict[str, Any]]:
    """Every stored track (or those with ``status``) as an export record, in track-id order."""
    classes = model_classes(store)
    conn = store.conn
    track_sql = ("SELECT id, path, duration, model, status, error FROM tracks"
                 + (" WHERE status = ?" if status else "") + " ORDER BY id")
    tracks = conn.execute(track_sql, (status,) if status else ())
    inst_cur = conn.execute(
        "SELECT track_id, instrument, score, coverage, role FROM track_instruments"
        " ORDER BY track_id, instrument")
    seg_cur = conn.execute(
        'SELECT track_id, instrument, start, "end", confidence, role FROM segments'
        " ORDER BY track_id")
    inst_next = next(inst_cur, None)
    seg_next = next(seg_cur, None)
    for tid, path, duration, model, track_status, error in tracks:
        inst_rows: list[Any] = []
        while inst_next is not None and inst_next[0] <= tid:
            if inst_next[0] == tid:
                inst_rows.append(inst_next[1:])
            inst_next = next(inst_cur, None)
        seg_rows: list[Any] = []
        while seg_next is not None and seg_next[0] <= tid:
            if seg_next[0] == tid:
                seg_rows.append(seg_next[1:])
            seg_next = next(seg_cur, None)
        track = {"path": path, "duration": duration, "model": model, "status": track_status,
                 "error": error}
        yield _record(track, inst_rows, seg_rows, classes.get(model, []))


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write one compact JSON object per line; returns how many were written."""
    n = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False))
        out.write("\n")
        n += 1
    return n


def write_jsonl_file(records: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Like :func:`write_jsonl` into ``path``, atomically: a failed export leaves no half file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            n = write_jsonl(records, fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
