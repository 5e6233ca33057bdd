"""The rows a scan produces for the store: plain dataclasses, no SQL and no sqlite-utils.

Apart from ``db.py`` so the segmenter (``tagger.segments``) can build them without loading
the database layer.
"""

from __future__ import annotations

from dataclasses import dataclass


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
