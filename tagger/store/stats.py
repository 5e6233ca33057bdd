"""What a store holds, in a few aggregate queries: the numbers behind ``tagger stats``.

Only columns of the first schema version are read, so a read-only store with an old schema
(opened without upgrading) is summarised too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tagger.store.db import Store


@dataclass
class InstrumentStats:
    """One instrument over the store's analysed tracks."""

    instrument: str
    tracks: int          # tracks where it is present (coverage > 0)
    lead_tracks: int     # ... and leads (role foreground)
    hours: float         # time inside its segments, summed over those tracks


@dataclass
class ModelStats:
    """The tracks whose stored answer one model version gave."""

    model: str
    tracks: int
    errors: int


@dataclass
class StoreStats:
    tracks: int = 0
    ok: int = 0
    errors: int = 0
    hours: float = 0.0   # audio of the analysed (ok) tracks
    labels: int = 0      # human labels from the labeling page
    last_scan: str | None = None  # when the last finished scan ended (ISO 8601, UTC)
    instruments: list[InstrumentStats] = field(default_factory=list)
    models: list[ModelStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As JSON wants it; hours rounded to 4 decimals (0.36 s)."""
        data = asdict(self)
        data["hours"] = round(self.hours, 4)
        for inst in data["instruments"]:
            inst["hours"] = round(inst["hours"], 4)
        return data


def store_stats(store: Store) -> StoreStats:
    """Counts, hours and model versions of everything in ``store`` (a handful of full scans
    of ``tracks`` and ``track_instruments``; about a second per 100,000 tracks)."""
    conn = store.conn
    stats = StoreStats()
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'error'), 0),"
        " COALESCE(SUM(CASE WHEN status = 'ok' THEN duration END), 0) FROM tracks").fetchone()
    stats.tracks, stats.ok, stats.errors = int(row[0]), int(row[1]), int(row[2])
    stats.hours = float(row[3]) / 3600
    stats.labels = int(conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0])
    stats.last_scan = conn.execute(
        "SELECT MAX(finished_at) FROM runs WHERE finished_at IS NOT NULL").fetchone()[0]
    stats.instruments = [
        InstrumentStats(name, int(n), int(lead), float(seconds or 0.0) / 3600)
        for name, n, lead, seconds in conn.execute(
            """SELECT ti.instrument, COUNT(*), SUM(ti.role = 'foreground'),
                      SUM(ti.coverage * t.duration)
               FROM track_instruments ti JOIN tracks t ON t.id = ti.track_id
               WHERE ti.coverage > 0 AND t.status = 'ok'
               GROUP BY ti.instrument ORDER BY COUNT(*) DESC, ti.instrument""")
    ]
    stats.models = [
        ModelStats(model or "?", int(n), int(errors))
        for model, n, errors in conn.execute(
            "SELECT model, COUNT(*), SUM(status = 'error') FROM tracks"
            " GROUP BY model ORDER BY COUNT(*) DESC, model")
    ]
    return stats
