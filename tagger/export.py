"""The export format (DESIGN.md, "Export format"): one JSON object per track, a contract.

``{"path", "duration", "model", "status", "instruments": {every class: {score, coverage,
role}}, "segments": [{instrument, start, end, confidence, role}]}``; failed tracks add
``"error"`` and have empty ``instruments`` and ``segments``.

Streaming: ``tagger.store.exports`` reads three cursors (tracks, their instrument rows, their
segments), all ordered by track id, merged in Python. Each table is read once in index order, so memory stays at one track whatever
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

from tagger.audio.sniff import sniff
from tagger.pipeline.discover import is_audio_name
from tagger.errors import TaggerError
from tagger.store.db import Store
from tagger.store.exports import TIME_DECIMALS, export_rows, model_classes, track_rows

__all__ = ["export_tracks", "track_record", "write_jsonl", "write_jsonl_file", "model_classes",
           "atomic_file"]

def _seconds(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), TIME_DECIMALS)


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
    instruments, segments, classes = track_rows(store, track["id"])
    return _record(track, instruments, segments, classes)


def export_tracks(store: Store, *, status: str | None = None) -> Iterator[dict[str, Any]]:
    """Every stored track (or those with ``status``) as an export record, in track-id order."""
    classes = model_classes(store)
    for track, inst_rows, seg_rows in export_rows(store, status=status):
        yield _record(track, inst_rows, seg_rows, classes.get(track["model"], []))


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
