"""SQLite storage of scan results: schema, migrations, writes and reads.

Names are imported on first use (PEP 562), so ``tagger.store.rows`` and ``tagger.store.errors``
load without the database layer (sqlite-utils, numpy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagger.lazy import lazy_exports

if TYPE_CHECKING:
    from tagger.store.damage import damage_error, is_damage
    from tagger.store.db import Store, TrackResult, path_key
    from tagger.store.errors import StoreDamagedError, StoreError
    from tagger.store.rows import InstrumentSummary, SegmentRow

_EXPORTS = {
    "Store": "db", "TrackResult": "db", "path_key": "db", "SegmentRow": "rows",
    "InstrumentSummary": "rows", "StoreError": "errors", "StoreDamagedError": "errors",
    "damage_error": "damage", "is_damage": "damage",
}
__all__ = ["Store", "StoreError", "StoreDamagedError", "TrackResult", "SegmentRow",
           "InstrumentSummary", "path_key", "damage_error", "is_damage"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
