"""Small reads other modules need from the store: a track id by path, ids under a folder, the
instrument names stored, paths ending with a user's text. SQL only here, not in the callers."""

from __future__ import annotations

from tagger.store.db import Store


def track_id_for_key(store: Store, key: bytes) -> int | None:
    """The id of the track whose path is exactly ``key`` (``path_key`` bytes), if stored."""
    row = store.conn.execute("SELECT id FROM tracks WHERE path_key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def track_ids_under(store: Store, folder_key: bytes) -> list[int]:
    """Ids of every track whose path starts with ``folder_key`` (ending in the separator), in
    path order: a range on the unique ``path_key`` index, not a scan."""
    high = folder_key[:-1] + bytes([folder_key[-1] + 1])
    rows = store.conn.execute(
        "SELECT id FROM tracks WHERE path_key >= ? AND path_key < ? ORDER BY path_key",
        (folder_key, high)).fetchall()
    return [int(r[0]) for r in rows]


def all_track_ids(store: Store) -> list[int]:
    """Every track's id, in path order."""
    return [int(r[0]) for r in store.conn.execute("SELECT id FROM tracks ORDER BY path_key")]


def instrument_names(store: Store) -> tuple[str, ...]:
    """The instrument names in the store's per-track summaries, sorted.

    A loose index scan (one ``MIN`` probe per distinct value) instead of ``SELECT DISTINCT``,
    which would read all ~14 rows per track: this runs before every query.
    """
    rows = store.conn.execute(
        """WITH RECURSIVE c(x) AS (
               SELECT MIN(instrument) FROM track_instruments
               UNION ALL
               SELECT (SELECT MIN(instrument) FROM track_instruments WHERE instrument > x)
               FROM c WHERE x IS NOT NULL)
           SELECT x FROM c WHERE x IS NOT NULL"""
    ).fetchall()
    return tuple(r[0] for r in rows)


def paths_ending_with(store: Store, text: str, *, limit: int = 4) -> list[str]:
    """Stored paths that end with ``text`` (literally: ``%`` and ``_`` are not wildcards)."""
    like = "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return [r[0] for r in store.conn.execute(
        "SELECT path FROM tracks WHERE path LIKE ? ESCAPE '\\' ORDER BY path LIMIT ?",
        (like, limit))]


def instrument_summary(store: Store, track_id: int) -> list[tuple[str, float, str | None]]:
    """A track's per-instrument ``(instrument, coverage, role)`` rows."""
    return store.conn.execute(
        "SELECT instrument, coverage, role FROM track_instruments WHERE track_id = ?",
        (track_id,)).fetchall()
