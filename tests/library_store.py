"""A small, hand-written library in a real store, for the query/export/show tests.

Each track states its instruments as ``{class: (score, coverage, role)}``; every other class
gets a row with coverage 0 (as the scanner writes), and segments are laid out to match the
coverage, so the tests read like the library they query.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tagger.store import InstrumentSummary, SegmentRow, Store, TrackResult
from tagger.taxonomy import CLASSES

MODEL = "tagger-1.0"

# path -> (duration, format, {instrument: (score, coverage, role)})
LIBRARY: dict[str, tuple[float, str, dict[str, tuple[float, float, str]]]] = {
    "/music/jazz/So What.flac": (200.0, "flac", {
        "saxophone": (0.95, 0.5, "foreground"), "trumpet": (0.9, 0.3, "foreground"),
        "piano": (0.8, 0.6, "background"), "bass": (0.85, 0.9, "background"),
        "drums": (0.9, 0.9, "background")}),
    "/music/jazz/Ballad.mp3": (180.0, "mp3", {
        "saxophone": (0.6, 0.1, "background"), "piano": (0.9, 0.8, "foreground"),
        "voice": (0.7, 0.4, "foreground")}),
    "/music/rock/Riff.mp3": (240.0, "mp3", {
        "electric_guitar": (0.97, 0.8, "foreground"), "drums": (0.95, 0.9, "background"),
        "bass": (0.9, 0.9, "background"), "voice": (0.93, 0.5, "foreground")}),
    "/music/folk/Campfire.ogg": (150.0, "ogg", {
        "acoustic_guitar": (0.92, 0.9, "background"), "voice": (0.88, 0.7, "foreground"),
        "flute": (0.55, 0.05, "background")}),
    "/music/classical/Quartet.flac": (300.0, "flac", {
        "violin": (0.96, 0.9, "foreground"), "cello": (0.9, 0.9, "background")}),
    "/music/pop/Synth Pop.m4a": (210.0, "m4a", {
        "synth": (0.9, 0.8, "foreground"), "voice": (0.85, 0.6, "foreground"),
        "drums": (0.8, 0.9, "background"), "organ": (0.5, 0.1, "background")}),
}
ERROR_PATH = "/music/broken/Corrupt.mp3"


def segments_for(duration: float, name: str, coverage: float, role: str) -> list[SegmentRow]:
    """Two segments covering ``coverage`` of the track: one at the start, one at the end."""
    half = coverage * duration / 2
    return [SegmentRow(name, 0.0, half, 0.8, role),
            SegmentRow(name, duration - half, duration, 0.7, role)]


def track_result(path: str, duration: float, fmt: str,
                 present: dict[str, tuple[float, float, str]]) -> TrackResult:
    instruments, segments = [], []
    for name in CLASSES:
        if name in present:
            score, coverage, role = present[name]
            instruments.append(InstrumentSummary(name, score, coverage, role))
            segments += segments_for(duration, name, coverage, role)
        else:
            instruments.append(InstrumentSummary(name, 0.1, 0.0, None))
    chunks = int(duration)
    return TrackResult(
        path=path, size=1000, mtime_ns=1, model=MODEL, duration=duration, format=fmt,
        segments=segments, instruments=instruments, classes=list(CLASSES), window_s=1.0,
        hop_s=1.0, presence=np.zeros((chunks, len(CLASSES)), dtype=np.float32))


def fill_store(db: Path, library: dict | None = None) -> Store:
    """A store at ``db`` holding ``library`` (default :data:`LIBRARY`) and one failed track."""
    store = Store(db)
    results = [track_result(p, d, f, present) for p, (d, f, present) in (library or LIBRARY).items()]
    results.append(TrackResult(path=ERROR_PATH, size=10, mtime_ns=1, model=MODEL, status="error",
                               error="decode failed: invalid data", format="mp3"))
    store.write_results(results)
    return store
