"""The export format (DESIGN.md, "Export format"): one JSON object per track, a contract.

``{"path", "duration", "model", "status", "instruments": {every class: {score, coverage,
role}}, "segments": [{instrument, start, end, confidence, role}]}``; failed tracks add
``"error"`` and have empty ``instruments`` and ``segments``.

Streaming: three cursors (tracks, their instrument rows, their segments), all ordered by track id,
merged in Python. Each table is read once in index order, so memory stays at one track whatever
the library size, and there is no query per track (3 statements in all, not 300,000). Measured
on 100,000 tracks (benchmarks/bench_query.py, a busy 2-core machine): 4.4 s CPU merged against
8.6 s with a query per track; most of what is left is Python building the dicts.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tagger.decode_sniff import sniff
from tagger.discover import is_audio_name
from tagger.errors import TaggerError
from tagger.store.db import Store

__all__ = ["export_tracks", "track_record", "write_jsonl", "write_jsonl_file", "model_classes",
           "atomic_file"]

SCORE_DECIMALS = 4  # a ranking score; more digits are noise from float16 chunk scores
TIME_DECIMALS = 3  # milliseconds


def _unit_sql(column: str) -> str:
    """SQL clamping ``column`` to [0, 1] (NULL, which is also how SQLite stores NaN, -> 0) and
    rounding it: done in C, because per-value Python calls were a third of an export's time."""
    return f"round(max(0.0, min(1.0, ifnull({column}, 0.0))), {SCORE_DECIMALS})"


INSTRUMENT_COLUMNS = (f"instrument, {_unit_sql('score')}, {_unit_sql('coverage')}, role")
SEGMENT_COLUMNS = (f'instrument, round(start, {TIME_DECIMALS}), round("end", {TIME_DECIMALS}),'
                   f" {_unit_sql('confidence')}, role")


def _seconds(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), TIME_DECIMALS)


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
        instruments[name] = {"score": score, "coverage": coverage, "role": role}
    record["instruments"] = instruments
    record["segments"] = [
        {"instrument": name, "start": start, "end": end, "confidence": confidence, "role": role}
        for name, start, end, confidence, role in sorted(segment_rows, key=lambda s: (s[1], s[0]))
    ]
    return record


def track_record(store: Store, track: dict[str, Any]) -> dict[str, Any]:
    """The export record of one track row (as ``Store.find_track`` returns it)."""
    tid = track["id"]
    instruments = store.conn.execute(
        f"SELECT {INSTRUMENT_COLUMNS} FROM track_instruments WHERE track_id = ?", (tid,)).fetchall()
    segments = store.conn.execute(
        f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE track_id = ?", (tid,)).fetchall()
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
        f"SELECT track_id, {INSTRUMENT_COLUMNS} FROM track_instruments ORDER BY track_id")
    seg_cur = conn.execute(f"SELECT track_id, {SEGMENT_COLUMNS} FROM segments ORDER BY track_id")
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
    with atomic_file(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            return write_jsonl(records, fh)


class WouldReplaceAudioError(TaggerError, FileExistsError):
    """An output path names an existing audio file: writing there would destroy it."""


def refuse_to_replace_audio(target: Path) -> None:
    """A plot, playlist or export never replaces a user's audio file (``--plot song.flac``
    is a slip of the keyboard, not a wish): by its name or by its first bytes."""
    if not target.is_file():
        return
    try:
        is_audio = is_audio_name(target.name) or sniff(str(target)).kind is not None
    except OSError:
        is_audio = is_audio_name(target.name)
    if is_audio:
        raise WouldReplaceAudioError(
            errno.EEXIST, "it is an audio file, which tagger never replaces (choose another name)",
            str(target))


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    Readers see the old file or the whole new one, never half; on error the temporary file is
    removed. The new file gets the permissions a plain ``open()`` would give (``mkstemp``
    alone makes it private, 0600) or those of the file it replaces. Used by every command
    that writes a file: export, ``query --m3u``, ``show --plot``. A missing folder is an
    error (``FileNotFoundError``), not created: a typo in a path must not make folders; an
    existing audio file is never replaced (``WouldReplaceAudioError``).
    """
    target = Path(path)
    refuse_to_replace_audio(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
