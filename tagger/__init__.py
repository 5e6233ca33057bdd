"""tagger: find which instruments play where in a music library.

The library API, imported on first use (PEP 562: ``import tagger`` stays cheap, and
``tagger --help`` loads no torch)::

    import tagger

    with tagger.Store("library.db") as store:
        report = tagger.scan(["~/Music"], store=store, options=tagger.ScanOptions(device="cpu"))
        rows = tagger.run_query(store, tagger.QuerySpec(has=["piano"]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagger.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tagger.export import export_tracks
    from tagger.model.registry import load_model
    from tagger.pipeline.run import scan
    from tagger.pipeline.scanning import ScanOptions, ScanProgress, ScanReport
    from tagger.query import QuerySpec, run_query
    from tagger.store import Store
    from tagger.tags import TagWriter, tag_tracks

_EXPORTS = {
    "scan": "pipeline.run", "ScanOptions": "pipeline.scanning", "ScanReport": "pipeline.scanning",
    "ScanProgress": "pipeline.scanning", "Store": "store", "QuerySpec": "query",
    "run_query": "query", "tag_tracks": "tags", "TagWriter": "tags", "export_tracks": "export",
    "load_model": "model.registry",
}
__all__ = ["scan", "ScanOptions", "ScanReport", "ScanProgress", "Store", "QuerySpec",
           "run_query", "tag_tracks", "TagWriter", "export_tracks", "load_model"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
