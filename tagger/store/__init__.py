"""SQLite storage of scan results: schema, migrations, writes and reads."""

from tagger.store.damage import damage_error, is_damage
from tagger.store.db import Store, TrackResult, SegmentRow, InstrumentSummary, path_key
from tagger.store.errors import StoreDamagedError, StoreError

__all__ = ["Store", "StoreError", "StoreDamagedError", "TrackResult", "SegmentRow",
           "InstrumentSummary", "path_key", "damage_error", "is_damage"]
