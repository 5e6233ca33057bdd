"""The decode stage: an IterableDataset whose DataLoader workers decode and chunk tracks.

Each worker takes its own share of the tracks (round-robin), decodes them straight to the
model's sample rate and yields fixed-size pieces of windows, so decoding of the next tracks
overlaps inference on the current ones and a long track never sits whole in memory.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Union

import torch
from torch.utils.data import IterableDataset, get_worker_info

from tagger.pipeline.chunking import stream_pieces


@dataclass
class Piece:
    """Consecutive windows [k, window] of one track, in order."""

    track: int
    windows: torch.Tensor


@dataclass
class Done:
    """The track decoded completely; ``duration_s`` is its decoded length, ``note`` says what
    decode repaired in its audio (one line), if anything."""

    track: int
    duration_s: float
    note: str | None = None


@dataclass
class Failed:
    """The track could not be decoded; ``message`` is one line for the user."""

    track: int
    message: str


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


@dataclass(frozen=True)
class ChunkSpec:
    """How to cut audio for a model: sample rate, window and hop in samples."""

    sample_rate: int
    window: int
    hop: int

    @classmethod
    def from_seconds(cls, sample_rate: int, window_s: float, hop_s: float) -> "ChunkSpec":
        return cls(sample_rate, int(round(window_s * sample_rate)), int(round(hop_s * sample_rate)))


class TrackDataset(IterableDataset):
    """Yields ``Piece``s then a ``Done`` (or a ``Failed``) per track, sharded across workers."""

    def __init__(self, paths: Sequence[str], spec: ChunkSpec, *, chunks_per_piece: int = 16,
                 block_s: float = 30.0):
        super().__init__()
        self.paths = list(paths)
        self.spec = spec
        self.chunks_per_piece = chunks_per_piece
        self.block_s = block_s

    def __iter__(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if info is not None:
            torch.set_num_threads(1)  # workers decode; the main process owns the cores for math
        for index in range(worker, len(self.paths), workers):
            yield from self._track(index)

    def _track(self, index: int) -> Iterator[Item]:
        # Imported here so a worker only loads the decoders it needs.
        from tagger.audio.decode import DecodeError, decode_blocks

        spec = self.spec
        samples = 0
        notes: list[str] = []

        def counted(blocks: Iterator) -> Iterator:
            nonlocal samples
            for block in blocks:
                samples += len(block)
                yield block

        try:
            blocks = counted(decode_blocks(self.paths[index], sample_rate=spec.sample_rate,
                                           block_s=self.block_s, notes=notes))
            for windows in stream_pieces(blocks, window=spec.window, hop=spec.hop,
                                         chunks_per_piece=self.chunks_per_piece):
                if samples == 0:
                    break
                yield Piece(index, torch.from_numpy(windows))
        except DecodeError as exc:
            yield Failed(index, str(exc))
            return
        except MemoryError:
            yield Failed(index, "out of memory while decoding")
            return
        except Exception as exc:  # a decoder bug must not end the scan: report it as one line
            yield Failed(index, f"unexpected decode error: {type(exc).__name__}: {exc}".splitlines()[0])
            return
        if samples == 0:
            yield Failed(index, "no audio samples in the file")
            return
        yield Done(index, samples / spec.sample_rate, "; ".join(notes) or None)


class BundledTracks(TrackDataset):
    """``TrackDataset`` whose items go out as ``Bundle``s of at least ``bundle_windows``
    windows (or ``bundle_ends`` finished tracks), so many short tracks share one hand-off;
    a long track's pieces (``chunks_per_piece`` windows each) still go out as they come."""

    def __init__(self, paths: Sequence[str], spec: ChunkSpec, *, chunks_per_piece: int = 16,
                 bundle_windows: int = 16, bundle_ends: int = 64):
        super().__init__(paths, spec, chunks_per_piece=chunks_per_piece)
        self.bundle_windows, self.bundle_ends = bundle_windows, bundle_ends

    def __iter__(self) -> Iterator[Bundle]:  # type: ignore[override]
        in_worker = get_worker_info() is not None
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
                yield _bundle(parts, ends, self.spec.window, shared=in_worker)
                parts, ends, count = [], [], 0
        if parts or ends:
            yield _bundle(parts, ends, self.spec.window, shared=in_worker)


def _bundle(parts: list[Piece], ends: list[Done | Failed], window: int, *, shared: bool
            ) -> Bundle:
    """One tensor for all windows; in a worker it is made in shared memory, so sending it to
    the main process copies nothing more."""
    total = sum(len(p.windows) for p in parts)
    out = torch.empty((total, window), dtype=torch.float32)
    if shared and total:
        out.share_memory_()
    if total:
        torch.cat([p.windows for p in parts], out=out)
    return Bundle(out, [(p.track, len(p.windows)) for p in parts], list(ends))


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int, worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: end this worker as soon as the scan process dies, and
    leave Ctrl-C to the scan process.

    Why: PyTorch's workers notice a dead parent only between items (every 5 s at best, never
    while decoding a long track), so a scan killed with ``kill -9`` left its workers running.
    On Linux the kernel sends SIGKILL (workers hold nothing worth saving); elsewhere a thread
    polls the parent. Use as ``functools.partial(die_with_parent, os.getpid())``.
    """
    # Ctrl-C reaches the whole foreground group: only the scan process answers it (it saves
    # the finished tracks and stops its workers); a worker dying of it first turned the
    # interrupt into a failed scan.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
