"""Label clips: fixed 5-second windows of scanned tracks, the model's guess there, and the queue.

A clip is named by a stable id ``"<track_id>-<index>"`` and covers ``[index*5, index*5+5)``
seconds of the track. The grid is independent of the model's own window and hop (read from
``chunk_scores``): a person judges 5 seconds comfortably whatever the model uses, and the
labels are stored as times, so they stay valid when the model changes.

The queue puts first the clips the model is least sure about (active learning), spread over
tracks, and leaves out clips already labelled or skipped.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.store import Store
from tagger.store.labels import scored_tracks
from tagger.store.score_blobs import decode_scores
from tagger.taxonomy import CLASSES, resolve

CLIP_S = 5.0
# A last clip shorter than this is folded away: two seconds is too little to judge.
MIN_TAIL_S = 2.0
ORDERS = ("uncertain", "random")

_ID_RE = re.compile(r"([0-9]{1,12})-([0-9]{1,9})")


@dataclass(frozen=True, order=True)
class ClipId:
    """``(track_id, index)``: survives restarts and re-scans because track ids are stable."""

    track_id: int
    index: int

    def __str__(self) -> str:
        return f"{self.track_id}-{self.index}"

    @classmethod
    def parse(cls, text: str) -> "ClipId":
        """Strictly parse ``"12-3"``; anything else (paths, signs, spaces) is a ValueError."""
        match = _ID_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"not a clip id: {str(text)[:40]!r} (expected TRACK-INDEX, e.g. 12-3)")
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Guess:
    """The model's belief for one instrument in one clip (None where it has no foreground head)."""

    presence: float
    foreground: float | None


@dataclass(frozen=True)
class Clip:
    """One clip offered for labeling."""

    id: ClipId
    path: str  # filesystem path to open (from the exact bytes of the track's identity)
    display_path: str
    start: float
    end: float
    guess: dict[str, Guess]
    uncertainty: float


@dataclass
class TrackScores:
    """What the index keeps per track: where it is, how long, and the per-chunk probabilities."""

    track_id: int
    path: str
    display_path: str
    duration: float
    window_s: float
    hop_s: float
    classes: list[str]
    presence: np.ndarray  # float32 [score chunks, classes]
    foreground: np.ndarray | None


def clip_count(duration: float, clip_s: float = CLIP_S) -> int:
    """Clips covering ``duration``: whole clips plus a tail of at least ``MIN_TAIL_S``; >= 1."""
    whole = int(duration // clip_s) if duration > 0 else 0
    if whole == 0 or duration - whole * clip_s >= MIN_TAIL_S:
        whole += 1
    return whole


def clip_bounds(index: int, duration: float, clip_s: float = CLIP_S) -> tuple[float, float]:
    """Start and end seconds of clip ``index``; the last one stops at the track's end."""
    start = index * clip_s
    end = min(start + clip_s, duration) if duration > start else start + clip_s
    return start, end


def clip_table(
    presence: np.ndarray, foreground: np.ndarray | None, *, window_s: float, hop_s: float,
    duration: float, clip_s: float = CLIP_S,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-clip, per-class max over the model's chunks whose centre lies in the clip.

    Max, because a label says "somewhere in these 5 s". A clip holding no chunk centre (a model
    window or hop longer than the clip) takes the chunk whose centre is nearest to its own.
    Vectorised: a large library's queue is built from every clip of every track at start-up.
    """
    n_clips = clip_count(duration, clip_s)
    centres = np.arange(len(presence)) * hop_s + window_s / 2
    owner = np.floor(centres / clip_s).astype(np.int64)
    valid = (owner >= 0) & (owner < n_clips)
    clip_centres = (np.arange(n_clips) + 0.5) * clip_s

    def reduce(values: np.ndarray) -> np.ndarray:
        table = np.full((n_clips, values.shape[1]), -np.inf, dtype=np.float32)
        np.maximum.at(table, owner[valid], values[valid])
        empty = ~np.isfinite(table[:, 0]) if values.shape[1] else np.zeros(n_clips, bool)
        if empty.any():
            nearest = np.abs(centres[None, :] - clip_centres[empty, None]).argmin(axis=1)
            table[empty] = values[nearest]
        return table

    return reduce(presence), None if foreground is None else reduce(foreground)


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Max over the last axis of 1 - |2p - 1|: 1 where the model says 0.5 for some instrument
    (it cannot tell), 0 where it is sure about all of them."""
    p = np.asarray(probabilities, dtype=np.float32)
    if p.shape[-1] == 0:
        return np.zeros(p.shape[:-1], dtype=np.float32)
    return (1.0 - np.abs(2.0 * p - 1.0)).max(axis=-1)


def clip_key(track_id: int, start: float) -> tuple[int, int]:
    """Key for "this clip is done": labels and skips are stored by time, so match on start ms."""
    return track_id, int(round(start * 1000))


class ClipIndex:
    """Every labelable clip in a store, loaded once (a few bytes per model chunk)."""

    def __init__(self, tracks: dict[int, TrackScores], clip_s: float = CLIP_S):
        self.tracks = tracks
        self.clip_s = clip_s
        self._tables: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    @classmethod
    def load(cls, store: Store, clip_s: float = CLIP_S) -> "ClipIndex":
        rows = scored_tracks(store)
        tracks: dict[int, TrackScores] = {}
        for tid, key, display, duration, window_s, hop_s, classes_json, p_blob, f_blob in rows:
            classes = json.loads(classes_json)
            if not classes or not p_blob or not hop_s or hop_s <= 0:
                continue
            presence = decode_scores(p_blob, len(classes))
            foreground = decode_scores(f_blob, len(classes)) if f_blob else None
            if presence is None:  # a damaged blob
                continue
            # A scan always knows the duration; older rows may not: the chunks bound it.
            known = duration if duration and duration > 0 else (len(presence) - 1) * hop_s + window_s
            tracks[tid] = TrackScores(tid, os.fsdecode(bytes(key)), display, float(known),
                                      float(window_s), float(hop_s), classes, presence, foreground)
        return cls(tracks, clip_s)

    def classes(self) -> list[str]:
        """The classes the stored scores know: the taxonomy's order first, then any extras."""
        seen: set[str] = set()
        for track in self.tracks.values():
            seen.update(track.classes)
        extra = sorted(seen - set(CLASSES))
        return [c for c in CLASSES if c in seen] + extra

    def resolve_instruments(self, spec: str) -> list[str]:
        """``"sax,voice"`` (aliases and groups too) or ``"all"`` -> class names.

        ``all`` means the classes the stored scores know; a name the store has never scored but
        the taxonomy knows is allowed (the page then shows no guess for it). ValueError on typos.
        """
        scored = self.classes()
        known = scored + [c for c in CLASSES if c not in scored]
        words = [w for w in (part.strip() for part in spec.split(",")) if w]
        if not words:
            raise ValueError("no instruments given (use e.g. sax,voice,piano or all)")
        chosen: list[str] = []
        for word in words:
            names = (scored or list(CLASSES)) if word.lower() == "all" else resolve(word, known)
            chosen.extend(n for n in names if n not in chosen)
        return chosen

    def _table(self, track: TrackScores) -> tuple[np.ndarray, np.ndarray | None]:
        table = self._tables.get(track.track_id)
        if table is None:
            table = clip_table(track.presence, track.foreground, window_s=track.window_s,
                               hop_s=track.hop_s, duration=track.duration, clip_s=self.clip_s)
            self._tables[track.track_id] = table
        return table

    def _columns(self, track: TrackScores, instruments: Sequence[str]) -> list[tuple[str, int]]:
        return [(name, track.classes.index(name)) for name in instruments if name in track.classes]

    def clip(self, cid: ClipId, instruments: Sequence[str]) -> Clip | None:
        """The clip behind an id, or None when no such track or clip exists."""
        track = self.tracks.get(cid.track_id)
        if track is None or cid.index >= clip_count(track.duration, self.clip_s):
            return None
        start, end = clip_bounds(cid.index, track.duration, self.clip_s)
        p, fg = self._table(track)
        columns = self._columns(track, instruments)
        guess = {name: Guess(float(p[cid.index, col]),
                             None if fg is None else float(fg[cid.index, col]))
                 for name, col in columns}
        u = float(uncertainty(p[cid.index, [col for _, col in columns]]))
        return Clip(cid, track.path, track.display_path, start, end, guess, u)

    def order(
        self, instruments: Sequence[str], *, order: str = "uncertain", done: set[tuple[int, int]],
        seed: int | None = None, per_track_cap: int | None = None,
    ) -> list[ClipId]:
        """Ids to offer, best first, leaving out ``done`` (``clip_key``s).

        ``uncertain``: each clip scores its uncertainty divided by (1 + its rank within its
        track), so a track's second-best clip needs to be twice as unsure as another track's
        best to come before it: many tracks get a turn, yet a very unsure clip is not buried
        behind every track's most certain one. ``random``: shuffled (``seed`` repeats it).
        ``per_track_cap`` bounds how many clips one track may contribute.
        """
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; use one of {', '.join(ORDERS)}")
        ranked: list[tuple[float, ClipId]] = []
        for tid, track in self.tracks.items():
            n = clip_count(track.duration, self.clip_s)
            open_ = [i for i in range(n)
                     if clip_key(tid, clip_bounds(i, track.duration, self.clip_s)[0]) not in done]
            if not open_:
                continue
            if order == "uncertain":
                cols = [col for _, col in self._columns(track, instruments)]
                u = uncertainty(self._table(track)[0][open_][:, cols])
                items = sorted(zip(u.tolist(), open_), key=lambda item: (-item[0], item[1]))
            else:
                items = [(0.0, i) for i in open_]
                random.Random(None if seed is None else f"{seed}:{tid}").shuffle(items)
            if per_track_cap is not None:
                items = items[:per_track_cap]
            ranked.extend((score / (1 + rank), ClipId(tid, index))
                          for rank, (score, index) in enumerate(items))
        if order == "random":
            ids = [cid for _, cid in ranked]
            random.Random(seed).shuffle(ids)
            return ids
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return [cid for _, cid in ranked]


class LabelQueue:
    """Thread-safe "what comes next": peeks without consuming, so reloading the page is harmless."""

    def __init__(self, ids: Sequence[ClipId]):
        self._ids = list(ids)
        self._pos = 0
        self._done: set[ClipId] = set()
        self._lock = threading.Lock()

    def current(self) -> ClipId | None:
        """The first id not yet labelled or skipped, or None when the queue is empty."""
        with self._lock:
            while self._pos < len(self._ids) and self._ids[self._pos] in self._done:
                self._pos += 1
            return self._ids[self._pos] if self._pos < len(self._ids) else None

    def mark_done(self, cid: ClipId) -> None:
        with self._lock:
            self._done.add(cid)

    def remaining(self) -> int:
        with self._lock:
            return sum(1 for cid in self._ids[self._pos:] if cid not in self._done)


def clip_duration_ok(start: float, end: float) -> bool:
    """Sanity check for stored times (finite, ordered): guards export and dataset code."""
    return math.isfinite(start) and math.isfinite(end) and end > start >= 0
