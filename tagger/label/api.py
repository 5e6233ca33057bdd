"""What the labeling page can ask for, with every input validated: no HTTP in here.

``server.py`` turns requests into calls on ``LabelApp`` and ``ApiError``s into 4xx JSON, so
the rules (known clip, known instrument, known role, every instrument answered) are plain
Python, testable without a socket.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tagger.audio import DecodeError, load_clip
from tagger.errors import TaggerError
from tagger.label.audio import SERVE_RATE, ClipCache, frequency_ticks, spectrogram_png, wav_bytes
from tagger.label.clips import CLIP_S, ORDERS, Clip, ClipId, ClipIndex, LabelQueue
from tagger.label.labels import LABEL_ROLES, counts, done_keys, record_labels, record_skip
from tagger.store import Store, StoreError

SKIP_ADVICE = "Guessing does more harm than good: skip when you can't tell."


class ApiError(TaggerError):
    """A request the page (or anyone) got wrong: becomes ``status`` + a JSON error message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LabelOptions:
    """How the page was started (``tagger label`` options)."""

    instruments: str = "all"
    order: str = "uncertain"
    seed: int | None = None
    per_track_cap: int | None = None


class LabelApp:
    """The page's state: which clips exist, what comes next, the CSRF token and a clip cache.

    Each request opens its own ``Store`` (SQLite connections must not cross threads, and a
    threaded server handles each request in a new thread); opening one is a file open and a
    PRAGMA, far below the cost of decoding a clip.
    """

    def __init__(self, db_path: str | os.PathLike[str], options: LabelOptions = LabelOptions()):
        if options.order not in ORDERS:
            raise ValueError(f"unknown order {options.order!r}; use one of {', '.join(ORDERS)}")
        self.db_path = db_path
        self.options = options
        with Store(db_path) as store:
            self.index = ClipIndex.load(store)
            self.instruments = self.index.resolve_instruments(options.instruments)
            done = done_keys(store)
        self.queue = LabelQueue(self.index.order(
            self.instruments, order=options.order, done=done, seed=options.seed,
            per_track_cap=options.per_track_cap))
        self.token = secrets.token_urlsafe(32)
        self.cache = ClipCache()

    @contextmanager
    def store(self) -> Iterator[Store]:
        try:
            store = Store(self.db_path)
        except StoreError as exc:
            raise ApiError(503, str(exc)) from None
        try:
            yield store
        except StoreError as exc:
            raise ApiError(503, str(exc)) from None
        except sqlite3.OperationalError as exc:  # locked for longer than the busy timeout...
            raise ApiError(503, f"the database is busy or unavailable: {exc}") from None
        finally:
            store.close()

    # -- reads ----------------------------------------------------------------------------
    def clip_json(self, clip: Clip) -> dict[str, Any]:
        return {
            "id": str(clip.id),
            "track": os.path.basename(clip.display_path) or clip.display_path,
            "path": clip.display_path,
            "start": round(clip.start, 3),
            "end": round(clip.end, 3),
            "audio": f"/api/clips/{clip.id}/audio.wav",
            "spectrogram": f"/api/clips/{clip.id}/spectrogram.png",
            "uncertainty": round(clip.uncertainty, 4),
            "guess": {name: {"presence": round(g.presence, 4),
                             "foreground": None if g.foreground is None else round(g.foreground, 4)}
                      for name, g in clip.guess.items()},
        }

    def next_payload(self) -> dict[str, Any]:
        """What the page shows: the next clip (or null when done), counters and settings."""
        cid = self.queue.current()
        clip = self.index.clip(cid, self.instruments) if cid is not None else None
        with self.store() as store:
            c = counts(store)
        return {
            "clip": None if clip is None else self.clip_json(clip),
            "counts": {"labeled": c.labeled, "skipped": c.skipped},
            "remaining": self.queue.remaining(),
            "instruments": self.instruments,
            "roles": list(LABEL_ROLES),
            "order": self.options.order,
            "clip_s": CLIP_S,
            "skip_advice": SKIP_ADVICE,
            "frequency_ticks": frequency_ticks(),
        }

    def lookup(self, text: Any) -> Clip:
        """A clip id from a request -> the clip; 400 if malformed, 404 if no such clip."""
        if not isinstance(text, str):
            raise ApiError(400, "'clip' must be a clip id string like \"12-3\"")
        try:
            cid = ClipId.parse(text)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        clip = self.index.clip(cid, self.instruments)
        if clip is None:
            raise ApiError(404, f"unknown clip {text!r}")
        return clip

    def _samples(self, clip: Clip) -> Any:
        def load() -> Any:
            try:
                return load_clip(clip.path, sample_rate=SERVE_RATE, start_s=clip.start,
                                 duration_s=clip.end - clip.start)
            except DecodeError as exc:
                hint = " (changed since the scan?)" if exc.kind == "past_end" else ""
                raise ApiError(410, f"audio of clip {clip.id} is unavailable: {exc}{hint}"
                               ) from None
        return self.cache.get(str(clip.id), load)

    def audio(self, text: str) -> bytes:
        return wav_bytes(self._samples(self.lookup(text)), SERVE_RATE)

    def spectrogram(self, text: str) -> bytes:
        return spectrogram_png(self._samples(self.lookup(text)), SERVE_RATE)

    # -- writes ---------------------------------------------------------------------------
    def _body(self, body: Any, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        extra = sorted(set(body) - allowed)
        if extra:
            raise ApiError(400, f"unexpected field(s) {extra}; allowed: {sorted(allowed)}")
        return body

    def submit(self, body: Any) -> dict[str, Any]:
        """``{"clip": "12-3", "labels": {instrument: role, ...}}`` for every page instrument."""
        data = self._body(body, {"clip", "labels"})
        clip = self.lookup(data.get("clip"))
        labels = data.get("labels")
        if not isinstance(labels, dict):
            raise ApiError(400, "'labels' must be an object mapping instrument to role")
        unknown = sorted(str(k)[:40] for k in labels if k not in self.instruments)
        if unknown:
            raise ApiError(400, f"unknown instrument(s) {unknown}; this page labels "
                                f"{', '.join(self.instruments)}")
        bad = {k: str(v)[:40] for k, v in labels.items() if not isinstance(v, str) or v not in LABEL_ROLES}
        if bad:
            raise ApiError(400, f"unknown role(s) {bad}; use {', '.join(LABEL_ROLES)}")
        missing = [name for name in self.instruments if name not in labels]
        if missing:
            raise ApiError(400, f"every instrument needs a choice (or skip the clip); missing: "
                                f"{', '.join(missing)}")
        roles = {name: labels[name] for name in self.instruments}
        with self.store() as store:
            record_labels(store, track_id=clip.id.track_id, start=clip.start, end=clip.end,
                          roles=roles)
        self.queue.mark_done(clip.id)
        return self.next_payload()

    def skip(self, body: Any) -> dict[str, Any]:
        """``{"clip": "12-3"}``: the person could not tell; not offered again."""
        data = self._body(body, {"clip"})
        clip = self.lookup(data.get("clip"))
        with self.store() as store:
            record_skip(store, track_id=clip.id.track_id, start=clip.start, end=clip.end)
        self.queue.mark_done(clip.id)
        return self.next_payload()
