"""The rows a scan produces for the store: plain dataclasses, no SQL and no sqlite-utils.

Apart from ``db.py`` so the segmenter (``tagger.pipeline.segments``) can build them without loading
the database layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


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


@dataclass
class TrackResult:
    """Everything a scan learned about one file, written to the store in one go."""

    path: str
    size: int | None
    mtime_ns: int | None
    model: str
    status: str = "ok"
    error: str | None = None
    duration: float | None = None
    format: str | None = None
    segments: list[SegmentRow] = field(default_factory=list)
    instruments: list[InstrumentSummary] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    window_s: float = 0.0
    hop_s: float = 0.0
    presence: np.ndarray | None = None
    foreground: np.ndarray | None = None
    note: str | None = None  # what decode repaired in an ok track's audio, one line
