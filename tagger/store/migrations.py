"""Numbered schema migrations; ``PRAGMA user_version`` records how many have run.

Append new migrations to ``MIGRATIONS``; never edit one that has shipped, because stores in the
wild have already run it.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the scan store.
    """
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        path_key BLOB NOT NULL UNIQUE,      -- os.fsencode(resolved path): exact identity, any bytes
        path TEXT NOT NULL,                 -- the same path for display (undecodable bytes escaped)
        size INTEGER,
        mtime_ns INTEGER,
        duration REAL,
        format TEXT,
        model TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        error TEXT,
        scanned_at TEXT NOT NULL
    );
    CREATE INDEX tracks_format ON tracks(format);
    CREATE INDEX tracks_status ON tracks(status);
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        instrument TEXT NOT NULL,
        start REAL NOT NULL,
        "end" REAL NOT NULL,
        confidence REAL NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('foreground', 'background'))
    );
    CREATE INDEX segments_track ON segments(track_id);
    CREATE TABLE track_instruments (
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        instrument TEXT NOT NULL,
        score REAL NOT NULL,
        coverage REAL NOT NULL,
        role TEXT CHECK (role IN ('foreground', 'background')),
        PRIMARY KEY (track_id, instrument)
    ) WITHOUT ROWID;
    CREATE INDEX track_instruments_lookup ON track_instruments(instrument, score, coverage, role, track_id);
    CREATE TABLE chunk_scores (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        window_s REAL NOT NULL,
        hop_s REAL NOT NULL,
        classes TEXT NOT NULL,              -- JSON list, the column order of the arrays
        presence BLOB NOT NULL,             -- float16 [chunks, classes] probabilities
        foreground BLOB                     -- float16 [chunks, classes] or NULL
    );
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        start REAL NOT NULL,
        "end" REAL NOT NULL,
        instrument TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('foreground', 'background', 'none')),
        labeled_at TEXT NOT NULL
    );
    CREATE INDEX labels_track ON labels(track_id);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        model TEXT,
        paths TEXT,
        scanned INTEGER DEFAULT 0,
        skipped INTEGER DEFAULT 0,
        failed INTEGER DEFAULT 0,
        audio_seconds REAL DEFAULT 0
    );
    """,
    # 2: chunks skipped on the labeling page (`tagger label`), so they are not offered again
    # and the page's counter survives restarts. Labels themselves live in `labels` (1).
    """
    CREATE TABLE label_skips (
        id INTEGER PRIMARY KEY,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        start REAL NOT NULL,
        "end" REAL NOT NULL,
        skipped_at TEXT NOT NULL
    );
    CREATE INDEX label_skips_track ON label_skips(track_id, start);
    CREATE INDEX labels_track_start ON labels(track_id, start);
    """,
    # 3: what our tag fields held in a file before tagger first wrote them, so that
    # `tagger tag --remove` restores it exactly. Keyed by path (not track id) so the backup
    # outlives the track's analysis rows; one row per field, snapshot NULL = field was absent.
    """
    CREATE TABLE tag_backups (
        path_key BLOB NOT NULL,
        field TEXT NOT NULL,
        kind TEXT NOT NULL,                 -- tag kind of the snapshot: id3, vorbis, mp4, asf
        snapshot TEXT,                      -- JSON, exact form (encoding, data type...)
        saved_at TEXT NOT NULL,
        PRIMARY KEY (path_key, field)
    ) WITHOUT ROWID;
    """,
    # 4: a one-line note on a track that was scored after decode repaired its audio (NaN
    # samples replaced, anti-phase channels), so the user can see why a result may be odd.
    """
    ALTER TABLE tracks ADD COLUMN note TEXT;
    """,
    # 5: a run's state. A scan killed mid-way (kill -9, power cut) never sets finished_at; the
    # next run marks such rows 'interrupted' when their process (pid on host) is gone. Rows
    # from before this migration that never finished are interrupted already.
    """
    ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'finished', 'interrupted'));
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    UPDATE runs SET status = CASE WHEN finished_at IS NULL THEN 'interrupted' ELSE 'finished' END;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn`` up to the newest schema; returns the version it is at afterwards."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first, so each migration is its own all-or-nothing step.
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS) if version < len(MIGRATIONS) else version
