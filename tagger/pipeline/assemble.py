"""Windows of many tracks, scored in any order, back into whole tracks for the result sink.

Every engine scores windows of several tracks in one model batch, and some deliver them out of
order or twice (a retried Ray task). The engine tells the assembler what it learns, as it
learns it: scores of some windows (``scored``), that a track decoded completely into so many
windows (``decoded``, with its duration and decode note) or that it failed (``failed``). A track
goes to the sink exactly once: when it failed, or when it decoded and every one of its windows
is scored. What arrives for a track after that is a repeat and ignored (counted in
``duplicates``), and so are windows of a failed track that were already queued for the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tagger.pipeline.discover import Candidate
from tagger.pipeline.scanning import ResultSink

Scores = tuple[np.ndarray, "np.ndarray | None"]  # presence [k, C], foreground [k, C] or None


@dataclass
class _OpenTrack:
    parts: dict[int, Scores] = field(default_factory=dict)  # first window -> scores from there
    scored: int = 0  # windows scored so far (distinct)
    total: int | None = None  # window count, once the track decoded completely
    duration_s: float = 0.0
    note: str | None = None  # what decode repaired in the audio, one line


class TrackAssembler:
    """Collects the scores of ``tracks`` (indexed by position) and hands each to ``sink`` once."""

    def __init__(self, tracks: Sequence[Candidate], sink: ResultSink):
        self.tracks, self.sink = tracks, sink
        self.finished = bytearray(len(tracks))  # 1 byte per track: fine for millions
        self.open: dict[int, _OpenTrack] = {}
        self.duplicates = 0

    def scored(self, track: int, presence: np.ndarray, foreground: np.ndarray | None,
               first: int | None = None) -> None:
        """Scores of windows ``first, first + 1, ...`` of ``track``; ``first=None``: the windows
        right after those scored so far (an engine that scores each track's windows in order).

        Parts of one track must be disjoint, or repeats of a part already seen (same ``first``):
        an engine whose retries may regroup windows hands them over one window at a time.
        """
        if self.finished[track]:
            self.duplicates += len(presence)
            return
        state = self.open.get(track)
        if state is None:
            state = self.open[track] = _OpenTrack()
        start = state.scored if first is None else first
        if start in state.parts:
            self.duplicates += len(presence)
            return
        state.parts[start] = (presence, foreground)
        state.scored += len(presence)
        self._finish_if_complete(track, state)

    def decoded(self, track: int, windows: int, duration_s: float, note: str | None = None
                ) -> None:
        """``track`` decoded completely into ``windows`` windows of audio ``duration_s`` long."""
        if self.finished[track]:
            return
        state = self.open.get(track)
        if state is None:
            state = self.open[track] = _OpenTrack()
        state.total, state.duration_s, state.note = windows, duration_s, note
        self._finish_if_complete(track, state)

    def failed(self, track: int, message: str) -> None:
        """``track`` could not be decoded: an error row, whatever of it was scored."""
        if self.finished[track]:
            self.duplicates += 1
            return
        self.open.pop(track, None)
        self.finished[track] = 1
        self.sink.failed(self.tracks[track], message)

    def unfinished(self) -> list[Candidate]:
        """Tracks neither stored nor failed (an engine that gave up on them): not stored."""
        return [self.tracks[i] for i, done in enumerate(self.finished) if not done]

    def _finish_if_complete(self, track: int, state: _OpenTrack) -> None:
        if state.total is None or state.scored < state.total:
            return
        del self.open[track]
        self.finished[track] = 1
        if not state.parts:
            self.sink.failed(self.tracks[track], "decoder produced no windows")
            return
        parts = [state.parts[first] for first in sorted(state.parts)]
        presence = parts[0][0] if len(parts) == 1 else np.concatenate([p for p, _ in parts])
        foreground = None
        if parts[0][1] is not None:
            foreground = parts[0][1] if len(parts) == 1 else np.concatenate(
                [f for _, f in parts])
        self.sink.ok(self.tracks[track], presence, foreground, state.duration_s, state.note)
