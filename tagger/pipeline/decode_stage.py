"""The decode stage: an IterableDataset whose DataLoader workers decode and chunk tracks.

Each worker takes the next unclaimed track (``TrackClaims``; a fixed round-robin share without
one), decodes it straight to the model's sample rate (``track_decode``) and yields fixed-size
pieces of windows, so decoding of the next tracks overlaps inference on the current ones and a
long track never sits whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Union

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from tagger.pipeline.bundle_buffers import BundleBuffers
from tagger.pipeline.track_decode import ChunkSpec, Done, Failed, decode_track
from tagger.pipeline.workers import TrackClaims, die_with_parent

__all__ = ["Bundle", "BundledTracks", "ChunkSpec", "Done", "Failed", "Item", "Piece",
           "TrackDataset", "die_with_parent"]


@dataclass
class Piece:
    """Consecutive windows [k, window] of one track, in order."""

    track: int
    windows: torch.Tensor


Item = Union[Piece, Done, Failed]


@dataclass
class Bundle:
    """Several tracks' items in one hand-off from a worker: ``windows`` holds the windows of
    ``pieces`` [(track, count), ...] back to back, in order; ``ends`` are the outcomes of the
    tracks that finished, each after its last piece.

    Why: every item a DataLoader worker sends costs a pickle, a shared-memory segment for its
    tensor and a wake-up of the main process (about 2-4 ms on the 2-core dev VM), which was
    most of a 3-s clip's cost when each track went as a Piece and a Done (issue 14).
    """

    windows: torch.Tensor
    pieces: list[tuple[int, int]]
    ends: list[Union[Done, Failed]]
    slot: int | None = None  # the worker's reused buffer ``windows`` is in (BundleBuffers)


class TrackDataset(IterableDataset):
    """Yields ``Piece``s then a ``Done`` (or a ``Failed``) per track. With ``claims`` each
    process takes the next unclaimed track; without, worker k of n takes tracks k, k+n, ..."""

    def __init__(self, paths: Sequence[str], spec: ChunkSpec, *, chunks_per_piece: int = 16,
                 block_s: float = 30.0, claims: TrackClaims | None = None):
        super().__init__()
        self.paths = list(paths)
        self.spec = spec
        self.chunks_per_piece = chunks_per_piece
        self.block_s = block_s
        self.claims = claims

    def __iter__(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if info is not None:
            torch.set_num_threads(1)  # workers decode; the main process owns the cores for math
        if self.claims is None:
            for index in range(worker, len(self.paths), workers):
                yield from self._track(index)
            return
        while (index := self.claims.next()) is not None:
            yield from self._track(index)

    def _track(self, index: int) -> Iterator[Item]:
        for item in decode_track(index, self.paths[index], self.spec,
                                 chunks_per_piece=self.chunks_per_piece, block_s=self.block_s):
            yield Piece(index, torch.from_numpy(item)) if isinstance(item, np.ndarray) else item


class BundledTracks(TrackDataset):
    """``TrackDataset`` whose items go out as ``Bundle``s of at least ``bundle_windows``
    windows (or ``bundle_ends`` finished tracks), so many short tracks share one hand-off;
    a long track's pieces (``chunks_per_piece`` windows each) still go out as they come."""

    def __init__(self, paths: Sequence[str], spec: ChunkSpec, *, chunks_per_piece: int = 16,
                 bundle_windows: int = 16, bundle_ends: int = 64,
                 claims: TrackClaims | None = None, buffers: BundleBuffers | None = None):
        super().__init__(paths, spec, chunks_per_piece=chunks_per_piece, claims=claims)
        self.bundle_windows, self.bundle_ends = bundle_windows, bundle_ends
        self.buffers = buffers

    def most_windows(self) -> int:
        """The most windows one bundle holds: it goes out once it has ``bundle_windows``."""
        return self.bundle_windows - 1 + self.chunks_per_piece

    def __iter__(self) -> Iterator[Bundle]:  # type: ignore[override]
        info = get_worker_info()
        make = partial(_bundle, window=self.spec.window, in_worker=info is not None,
                       buffers=self.buffers, worker=info.id if info else 0)
        parts: list[Piece] = []
        ends: list[Done | Failed] = []
        count = 0
        for item in super().__iter__():
            if isinstance(item, Piece):
                parts.append(item)
                count += len(item.windows)
            else:
                if isinstance(item, Failed):  # its windows here need no scoring
                    parts = [p for p in parts if p.track != item.track]
                    count = sum(len(p.windows) for p in parts)
                ends.append(item)
            if count >= self.bundle_windows or len(ends) >= self.bundle_ends:
                yield make(parts, ends)
                parts, ends, count = [], [], 0
        if parts or ends:
            yield make(parts, ends)


def _bundle(parts: list[Piece], ends: list[Done | Failed], *, window: int, in_worker: bool,
            buffers: BundleBuffers | None, worker: int) -> Bundle:
    """One tensor for all windows; in a worker it is in shared memory (one of the worker's
    reused buffers when one is free), so sending it to the main process copies nothing more."""
    total = sum(len(p.windows) for p in parts)
    slot = None
    if not (in_worker and total):
        out = torch.empty((total, window), dtype=torch.float32)
    elif buffers is not None:
        slot, out = buffers.take(worker, total)
    else:
        out = torch.empty((total, window), dtype=torch.float32).share_memory_()
    if total:
        torch.cat([p.windows for p in parts], out=out)
    return Bundle(out, [(p.track, len(p.windows)) for p in parts], list(ends), slot)
