"""Scan engines, by name: ``local`` (:mod:`tagger.engines.local`, DataLoader workers on this
machine) and ``ray`` (:mod:`tagger.engines.ray_engine`, a Ray cluster).

An engine only decides *where* decoding and inference run (:class:`tagger.engines.base.Engine`);
discovery and skipping, the decode + chunk code (``tagger.pipeline.decode_stage``), the model,
reassembling windows into tracks (``tagger.pipeline.assemble``) and what happens to a finished
track (``tagger.pipeline.scanning.ResultSink``) are shared, so every engine writes the same
store. Importing this package loads neither torch nor Ray.
"""

from __future__ import annotations

from typing import Any

from tagger.engines.base import Engine, EngineError
from tagger.engines.local import LocalEngine
from tagger.engines.ray_engine import RayEngine

ENGINES: dict[str, type[Engine]] = {"local": LocalEngine, "ray": RayEngine}


def make_engine(name: str, **settings: Any) -> Engine:
    """The engine called ``name``, made with its keyword ``settings`` (``address=`` for Ray)."""
    try:
        cls = ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})") from None
    unknown = set(settings) - cls.settings
    if unknown:
        raise EngineError(f"the {name} engine takes no {', '.join(sorted(unknown))} setting")
    return cls(**settings)


__all__ = ["ENGINES", "Engine", "EngineError", "LocalEngine", "RayEngine", "make_engine"]
