"""SQLite storage of scan results: schema, migrations, writes and reads."""

from tagger.store.db import Store, StoreError, TrackResult, SegmentRow, InstrumentSummary, path_key

__all__ = ["Store", "StoreError", "TrackResult", "SegmentRow", "InstrumentSummary", "path_key"]
