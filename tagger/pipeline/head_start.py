"""Decode the first tracks while the scan process imports torch and loads the model.

Why: ``import torch`` and the model take about 2 s of one core before the first DataLoader
worker can start (workers are forked from a process that has torch), and on a 2-core machine
the other core sat idle all that time: a fifth of a 1,000-clip scan (issue 14). The head start
is one process forked *before* torch is imported. It takes tracks from the same
``TrackClaims`` the DataLoader workers take from later, so each track is decoded once, and it
stops taking tracks once the workers run (``stop``).

Its windows go into a shared anonymous mapping made before the fork (``slots`` windows, about
160 MB of address space, touched only as far as used), and only (track, slot, count) notes go
through the pipe: pickling the windows themselves cost the scan process 1.5 ms a window, more
than half of what scoring one costs. A piece that finds the arena full is sent pickled (slow,
but at most the rest of one track), and the head start takes no more tracks after it.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tagger.pipeline.track_decode import ChunkSpec, Done, Failed, TrackEnd, decode_track
from tagger.pipeline.workers import TrackClaims, die_with_parent

ARENA_BYTES = 160 * 2**20  # 256 windows of the shipped models (5 s at 32 kHz, float32)


@dataclass
class HeadPiece:
    """Consecutive windows [k, window] of ``track``, in order (a view of the arena, or a copy)."""

    track: int
    windows: np.ndarray


class HeadStart:
    """One decode process forked now, before torch; ``results()`` reads what it decoded.

    Use as a context manager around the model load; ``stop()`` once the DataLoader workers
    run, then ``results()`` to the end. Leaving the context ends the process in every case.
    """

    def __init__(self, paths: Sequence[str], spec: ChunkSpec, claims: TrackClaims, *,
                 chunks_per_piece: int = 16, arena_bytes: int = ARENA_BYTES):
        self.paths, self.spec, self.claims = list(paths), spec, claims
        self.chunks_per_piece = chunks_per_piece
        self.slots = max(chunks_per_piece, arena_bytes // (4 * spec.window))
        self._process: Any = None
        self._reader: Any = None
        self._current: int | None = None  # the track being decoded, until its end arrives

    def __enter__(self) -> "HeadStart":
        ctx = multiprocessing.get_context("fork")  # before torch: nothing to re-import
        self._arena = mmap.mmap(-1, self.slots * self.spec.window * 4)
        self._stop = ctx.Event()
        self._reader, writer = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=self._run, args=(writer, os.getpid()),
                                    name="tagger-head-start", daemon=True)
        self._process.start()
        writer.close()  # the child holds the only write end: its death is EOF here
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._stop.set()
        if process.is_alive():
            process.kill()  # holds nothing worth saving: its windows were read or are dropped
        process.join()
        self._reader.close()

    def stop(self) -> None:
        """Take no more tracks: the DataLoader workers take the rest."""
        self._stop.set()

    def results(self) -> Iterator[HeadPiece | TrackEnd]:
        """Each decoded track's pieces then its ``Done``/``Failed``, in decode order, until the
        process has finished (call ``stop`` first, or it decodes every track). Read once: the
        arena is unmapped when the last piece is gone. A track it was decoding when it died (a
        decoder crash) ends ``Failed``."""
        window = self.spec.window
        arena, self._arena = self._arena, None  # unmapped here once the last view is scored
        while True:
            try:
                message = self._reader.recv()
            except EOFError:  # died without saying "end"
                self._process.join()
                if self._current is not None:
                    yield Failed(self._current, f"the decoder process died on this file"
                                 f" (exit code {self._process.exitcode})")
                return
            kind = message[0]
            if kind == "end":
                return
            if kind == "track":
                self._current = message[1]
            elif kind == "slots":
                _, track, first, count = message
                view = np.frombuffer(arena, dtype=np.float32, count=count * window,
                                     offset=first * window * 4)
                yield HeadPiece(track, view.reshape(count, window))
            elif kind == "copy":
                yield HeadPiece(message[1], message[2])
            else:
                self._current = None
                yield message[1]

    def _run(self, writer: Any, parent: int) -> None:
        """The child: decode claimed tracks into the arena until stopped or out of tracks."""
        die_with_parent(parent)
        arena = np.frombuffer(self._arena, dtype=np.float32).reshape(self.slots, -1)
        used = 0
        full = False
        while not full and not self._stop.is_set():
            index = self.claims.next()
            if index is None:
                break
            writer.send(("track", index))
            for item in decode_track(index, self.paths[index], self.spec,
                                     chunks_per_piece=self.chunks_per_piece):
                if isinstance(item, (Done, Failed)):
                    writer.send(("end-track", item))
                elif used + len(item) <= self.slots:
                    arena[used : used + len(item)] = item
                    writer.send(("slots", index, used, len(item)))
                    used += len(item)
                else:
                    full = True
                    writer.send(("copy", index, item))
        writer.send(("end",))
        writer.close()
