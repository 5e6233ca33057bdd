"""The ``Store``: one SQLite file holding tracks, segments, per-track summaries and labels.

Writes go in one transaction per batch of finished tracks (WAL mode), so a scan killed at any
moment leaves whole tracks or nothing: re-running it finishes the rest with no duplicates.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from tagger.store.migrations import migrate


class StoreError(Exception):
    """A store problem worth one line to the user (not a database, disk full, locked...)."""


def path_key(path: str | os.PathLike[str] | bytes) -> bytes:
    """The exact bytes of a path: the identity of a track, whatever its encoding."""
    return os.fsencode(path)


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A printable form of a path; bytes that are not UTF-8 become ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SegmentRow:
    instrument: str
    start: float
    end: float
    confidence: float
    role: str


@dataclass
class InstrumentSummary:
    instrument: str
    score: float
    coverage: float
    role: str | None


@dataclass
class TrackResult:
    """Everything a scan learned about one file, written to the store in one go."""

    path: str
    size: int | None
    mtime_ns: int | None
    model: str
    status: str = "ok"
    error: str | None = None
    duration: float | None = None
    format: str | None = None
    segments: list[SegmentRow] = field(default_factory=list)
    instruments: list[InstrumentSummary] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    window_s: float = 0.0
    hop_s: float = 0.0
    presence: np.ndarray | None = None
    foreground: np.ndarray | None = None


@dataclass(frozen=True)
class KnownTrack:
    size: int | None
    mtime_ns: int | None
    model: str | None
    status: str


def _blob(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.asarray(array, dtype=np.float16).tobytes()


class Store:
    """Open (creating and migrating as needed) the store at ``path``."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {self.path} as a tagger database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc.strerror or exc}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------
    def write_results(self, results: Iterable[TrackResult]) -> None:
        """Replace the stored rows of each track, all tracks in one transaction."""
        rows = list(results)
        if not rows:
            return
        try:
            with self._transaction():
                for result in rows:
                    self._write_one(result)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from None

    def _write_one(self, r: TrackResult) -> None:
        cur = self.conn.execute(
            """INSERT INTO tracks (path_key, path, size, mtime_ns, duration, format, model,
                                   status, error, scanned_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(path_key) DO UPDATE SET
                 path=excluded.path, size=excluded.size, mtime_ns=excluded.mtime_ns,
                 duration=excluded.duration, format=excluded.format, model=excluded.model,
                 status=excluded.status, error=excluded.error, scanned_at=excluded.scanned_at
               RETURNING id""",
            (path_key(r.path), display_path(r.path), r.size, r.mtime_ns, r.duration, r.format,
             r.model, r.status, r.error, now_iso()),
        )
        track_id = cur.fetchone()[0]
        for table in ("segments", "track_instruments", "chunk_scores"):
            self.conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))
        self.conn.executemany(
            'INSERT INTO segments (track_id, instrument, start, "end", confidence, role)'
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(track_id, s.instrument, s.start, s.end, s.confidence, s.role) for s in r.segments],
        )
        self.conn.executemany(
            "INSERT INTO track_instruments (track_id, instrument, score, coverage, role)"
            " VALUES (?, ?, ?, ?, ?)",
            [(track_id, i.instrument, i.score, i.coverage, i.role) for i in r.instruments],
        )
        if r.presence is not None:
            self.conn.execute(
                "INSERT INTO chunk_scores VALUES (?, ?, ?, ?, ?, ?)",
                (track_id, r.window_s, r.hop_s, json.dumps(r.classes), _blob(r.presence),
                 _blob(r.foreground)),
            )

    def _transaction(self) -> "_Transaction":
        return _Transaction(self.conn)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """Execute one write, turning SQLite's errors (disk full, locked) into a StoreError."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from None

    def start_run(self, *, model: str, paths: list[str]) -> int:
        cur = self._execute(
            "INSERT INTO runs (started_at, model, paths) VALUES (?, ?, ?)",
            (now_iso(), model, json.dumps(paths)),
        )
        return int(cur.lastrowid or 0)

    def finish_run(
        self, run_id: int, *, scanned: int, skipped: int, failed: int, audio_seconds: float
    ) -> None:
        self._execute(
            "UPDATE runs SET finished_at=?, scanned=?, skipped=?, failed=?, audio_seconds=?"
            " WHERE id=?",
            (now_iso(), scanned, skipped, failed, audio_seconds, run_id),
        )

    # -- tag writes in flight ---------------------------------------------------------------
    # A ``tag_backups`` row with field ``=written`` (no schema change: ``=`` rows are facts
    # about a file, not fields) holds the [size, mtime_ns] a file will have once tagger's
    # atomic replace of it lands, until the tracks row itself says so.
    def expect_writes(self, writes: Iterable[tuple[bytes, int, int]]) -> None:
        """Note each ``(path_key, size, mtime_ns)`` a tag write is about to give its file.

        Done before any file is replaced, in one transaction synced to disk: a ``kill -9``
        (or a power cut) after a replace and before :meth:`learn_writes` then leaves a file
        the next run recognises as tagger's own write instead of "changed since the scan".
        """
        now = now_iso()
        self.conn.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction():
                self.conn.executemany(
                    "INSERT OR REPLACE INTO tag_backups (path_key, field, kind, snapshot, saved_at)"
                    " VALUES (?, '=written', '', ?, ?)",
                    [(key, json.dumps([size, mtime_ns]), now) for key, size, mtime_ns in writes],
                )
        finally:
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def expected_write(self, key: bytes) -> tuple[int, int] | None:
        """The (size, mtime_ns) noted by :meth:`expect_writes` and not yet learnt, or None."""
        row = self.conn.execute(
            "SELECT snapshot FROM tag_backups WHERE path_key = ? AND field = '=written'", (key,)
        ).fetchone()
        if row is None:
            return None
        size, mtime_ns = json.loads(row[0])
        return int(size), int(mtime_ns)

    def learn_writes(self, files: Iterable[tuple[int, bytes, int, int]]) -> None:
        """Each ``(track_id, path_key, size, mtime_ns)``: the track's file now has this size
        and mtime (tagger wrote it), so a scan will not re-analyse it; its note goes. Runs in
        the caller's transaction."""
        rows = list(files)
        self.conn.executemany("UPDATE tracks SET size = ?, mtime_ns = ? WHERE id = ?",
                              [(size, mtime_ns, track_id) for track_id, _k, size, mtime_ns in rows])
        self.conn.executemany("DELETE FROM tag_backups WHERE path_key = ? AND field = '=written'",
                              [(key,) for _t, key, _s, _m in rows])

    # -- reads ----------------------------------------------------------------------------
    def known_tracks(self) -> dict[bytes, KnownTrack]:
        """Every stored track's change-detection fields, in one query (re-scans stat, then look up)."""
        rows = self.conn.execute("SELECT path_key, size, mtime_ns, model, status FROM tracks")
        return {bytes(k): KnownTrack(s, m, mo, st) for k, s, m, mo, st in rows}

    def find_track(self, path: str | os.PathLike[str] | bytes) -> dict[str, Any] | None:
        """The track row for a path (resolved like a scan resolves it), or None."""
        key = path_key(os.path.realpath(path))
        row = self.conn.execute("SELECT * FROM tracks WHERE path_key = ?", (key,)).fetchone()
        if row is None:
            # Fall back to a suffix match on the display path, handy for `tagger show name.mp3`.
            like = "%" + display_path(path).replace("%", r"\%").replace("_", r"\_")
            rows = self.conn.execute(
                "SELECT * FROM tracks WHERE path LIKE ? ESCAPE '\\' LIMIT 2", (like,)
            ).fetchall()
            if len(rows) != 1:
                return None
            row = rows[0]
        return self._row_dict("tracks", row)

    def _row_dict(self, table: str, row: tuple[Any, ...]) -> dict[str, Any]:
        columns = [c.name for c in self.db[table].columns]
        return dict(zip(columns, row))

    def track(self, track_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
        return None if row is None else self._row_dict("tracks", row)

    def segments(self, track_id: int) -> list[SegmentRow]:
        rows = self.conn.execute(
            'SELECT instrument, start, "end", confidence, role FROM segments'
            " WHERE track_id = ? ORDER BY instrument, start",
            (track_id,),
        )
        return [SegmentRow(*row) for row in rows]

    def instruments(self, track_id: int) -> list[InstrumentSummary]:
        rows = self.conn.execute(
            "SELECT instrument, score, coverage, role FROM track_instruments"
            " WHERE track_id = ? ORDER BY score DESC",
            (track_id,),
        )
        return [InstrumentSummary(*row) for row in rows]

    def chunk_scores(self, track_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT window_s, hop_s, classes, presence, foreground FROM chunk_scores"
            " WHERE track_id = ?",
            (track_id,),
        ).fetchone()
        if row is None:
            return None
        window_s, hop_s, classes_json, presence, foreground = row
        classes = json.loads(classes_json)

        def unpack(blob: bytes | None) -> np.ndarray | None:
            if blob is None:
                return None
            return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, len(classes))

        return {"window_s": window_s, "hop_s": hop_s, "classes": classes,
                "presence": unpack(presence), "foreground": unpack(foreground)}

    def iter_tracks(self, *, status: str | None = None) -> Iterator[dict[str, Any]]:
        sql = "SELECT * FROM tracks" + (" WHERE status = ?" if status else "") + " ORDER BY path"
        cursor = self.conn.execute(sql, (status,) if status else ())
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row))

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM tracks GROUP BY status")
        return {status: n for status, n in rows}


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (autocommit connection)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite may have rolled back itself (disk full)
            self.conn.execute("ROLLBACK")
