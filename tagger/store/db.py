"""The ``Store``: one SQLite file holding tracks, segments, per-track summaries and labels.

Writes go in one transaction per batch of finished tracks (WAL mode), so a scan killed at any
moment leaves whole tracks or nothing: re-running it finishes the rest with no duplicates.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tagger.store.damage import damage_error, is_damage
from tagger.store.errors import StoreError
from tagger.store.migrations import MIGRATIONS, migrate
from tagger.store.rows import InstrumentSummary, SegmentRow, TrackResult
from tagger.store.score_blobs import decode_scores
from tagger.store.writes import write_tracks


def path_key(path: str | os.PathLike[str] | bytes) -> bytes:
    """The exact bytes of a path: the identity of a track, whatever its encoding."""
    return os.fsencode(path)


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A printable form of a path; bytes that are not UTF-8 become ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _writable(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file, and its folder (WAL needs -wal and -shm)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class KnownTrack:
    size: int | None
    mtime_ns: int | None
    model: str | None
    status: str
    error: str | None = None


class Store:
    """Open (creating and migrating as needed) the store at ``path``.

    ``read_only``: True opens it for reading only (no migration, no write); None (the default)
    chooses that when the file exists but it or its folder is not writable, so reads work on a
    store on a read-only disk or folder; False always opens it for writing.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        if read_only is None:
            read_only = self.path.exists() and not _writable(self.path)
        self.read_only = read_only
        self.notice: str | None = None  # one line worth telling the user (an old schema)
        try:
            conn = self._open_read_only() if read_only else self._open_writable()
        except sqlite3.DatabaseError as exc:
            if is_damage(exc) and self.path.exists():
                raise damage_error(self.path) from None
            raise StoreError(f"cannot use {self.path} as a tagger database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc.strerror or exc}") from None
        self.conn = conn

    def _open_writable(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """``mode=ro``, else ``immutable=1``: a WAL store in a folder we cannot write has no
        ``-shm`` file to share, and SQLite then reads it only as immutable."""
        base = self.path.absolute().as_uri()
        try:
            conn = sqlite3.connect(base + "?mode=ro", uri=True, timeout=30, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError:
            conn = sqlite3.connect(base + "?immutable=1", uri=True, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < len(MIGRATIONS):
            self.notice = (f"{self.path} is read-only and has an older schema ({version} of"
                           f" {len(MIGRATIONS)}): reading it without upgrading")
        return conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------
    def write_results(self, results: Iterable[TrackResult]) -> list[tuple[TrackResult, str]]:
        """Replace the stored rows of each track, all tracks in one transaction.

        A track whose rows the database refuses (a NaN score breaks NOT NULL) is stored as an
        error row instead, in the same transaction, so one bad result never costs the others;
        returns those tracks with their one-line reasons. Failures of the database itself (disk
        full, locked) lose the whole batch and raise :class:`StoreError`.
        """
        rows = list(results)
        if not rows:
            return []
        try:
            with self.atomic():
                refused = write_tracks(self.conn, rows, [path_key(r.path) for r in rows],
                                       [display_path(r.path) for r in rows], now_iso())
        except sqlite3.Error as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from None
        return refused

    def atomic(self) -> "_Transaction":
        """``with store.atomic():`` — BEGIN IMMEDIATE ... COMMIT, rolled back on any error.

        The one transaction helper (the connection is in autocommit mode): SQLite's own errors
        pass through unchanged, so callers can still tell a full disk from a locked database.
        """
        return _Transaction(self.conn)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """Execute one write, turning SQLite's errors (disk full, locked) into a StoreError."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from None

    def start_run(self, *, model: str, paths: list[str]) -> int:
        """Record a run as 'running' by this process, first marking dead ones interrupted."""
        self.mark_interrupted_runs()
        cur = self._execute(
            "INSERT INTO runs (started_at, model, paths, status, pid, host)"
            " VALUES (?, ?, ?, 'running', ?, ?)",
            (now_iso(), model, json.dumps(paths), os.getpid(), socket.gethostname()),
        )
        return int(cur.lastrowid or 0)

    def finish_run(
        self, run_id: int, *, scanned: int, skipped: int, failed: int, audio_seconds: float
    ) -> None:
        self._execute(
            "UPDATE runs SET finished_at=?, scanned=?, skipped=?, failed=?, audio_seconds=?,"
            " status='finished' WHERE id=?",
            (now_iso(), scanned, skipped, failed, audio_seconds, run_id),
        )

    def mark_interrupted_runs(self) -> int:
        """Mark 'running' rows whose process on this host is gone as 'interrupted' (a killed
        scan cannot do it itself); runs of other hosts are left, we cannot tell. Returns how
        many were marked."""
        host = socket.gethostname()
        rows = self.conn.execute(
            "SELECT id, pid, host FROM runs WHERE status = 'running'").fetchall()
        dead = [run_id for run_id, pid, run_host in rows
                if run_host in (None, host) and not _process_alive(pid)]
        for run_id in dead:
            self._execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (run_id,))
        return len(dead)

    def delete_tracks(self, track_ids: Iterable[int]) -> int:
        """Delete tracks and their analysis rows (segments, scores) in one transaction."""
        ids = list(track_ids)
        try:
            with self.atomic():
                for start in range(0, len(ids), 500):
                    part = ids[start:start + 500]
                    self.conn.execute(
                        f"DELETE FROM tracks WHERE id IN ({', '.join('?' * len(part))})", part)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"could not write to {self.path}: {exc}") from None
        return len(ids)

    def labelled_track_ids(self) -> set[int]:
        """Tracks that hold human labels or skips: work of a person, never pruned silently."""
        rows = self.conn.execute("SELECT track_id FROM labels UNION SELECT track_id FROM label_skips")
        return {r[0] for r in rows}

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
            with self.atomic():
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
        rows = self.conn.execute(
            "SELECT path_key, size, mtime_ns, model, status, error FROM tracks")
        return {bytes(k): KnownTrack(s, m, mo, st, e) for k, s, m, mo, st, e in rows}

    def find_track(self, path: str | os.PathLike[str] | bytes) -> dict[str, Any] | None:
        """The track row for a path (resolved like a scan resolves it), or None."""
        key = path_key(os.path.realpath(path))
        cursor = self.conn.execute("SELECT * FROM tracks WHERE path_key = ?", (key,))
        row = cursor.fetchone()
        if row is None:
            # Fall back to a suffix match on the display path, handy for `tagger show name.mp3`.
            like = "%" + display_path(path).replace("%", r"\%").replace("_", r"\_")
            cursor = self.conn.execute(
                "SELECT * FROM tracks WHERE path LIKE ? ESCAPE '\\' LIMIT 2", (like,))
            rows = cursor.fetchall()
            if len(rows) != 1:
                return None
            row = rows[0]
        return _row_dict(cursor, row)

    def track(self, track_id: int) -> dict[str, Any] | None:
        cursor = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (track_id,))
        row = cursor.fetchone()
        return None if row is None else _row_dict(cursor, row)

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
        return {"window_s": window_s, "hop_s": hop_s, "classes": classes,
                "presence": decode_scores(presence, len(classes)),
                "foreground": decode_scores(foreground, len(classes))}

    def iter_tracks(self, *, status: str | None = None) -> Iterator[dict[str, Any]]:
        sql = "SELECT * FROM tracks" + (" WHERE status = ?" if status else "") + " ORDER BY path"
        cursor = self.conn.execute(sql, (status,) if status else ())
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row))

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM tracks GROUP BY status")
        return {status: n for status, n in rows}


def _row_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of ``SELECT *`` as {column: value}."""
    return dict(zip((d[0] for d in cursor.description), row))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (autocommit connection)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        elif self.conn.in_transaction:  # SQLite may have rolled back itself (disk full)
            self.conn.execute("ROLLBACK")
