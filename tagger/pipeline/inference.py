"""Batched model inference: gather windows from many tracks into full batches, score them.

Windows of different tracks share a batch (short tracks would otherwise waste the batch), and
results are handed back per track in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import torch


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` = CUDA when present, else CPU; asking for CUDA without one is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA GPU is available")
    return torch.device(requested)


def joined(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts)``, as a view when the parts lie back to back in one storage (windows
    of one bundle, the usual case): copying 8 windows cost about 1 ms a batch."""
    first = parts[0]
    if len(parts) == 1:
        return first
    storage, step = first.untyped_storage().data_ptr(), first.stride(0) * first.element_size()
    at = first.data_ptr()
    for part in parts:
        if (not part.is_contiguous() or part.untyped_storage().data_ptr() != storage
                or part.data_ptr() != at or part.shape[1:] != first.shape[1:]):
            return torch.cat(parts)
        at += len(part) * step
    return first.as_strided((sum(len(p) for p in parts), *first.shape[1:]), first.stride())


class BatchScorer:
    """Feeds [k, window] pieces through the model in batches of ``batch_size`` windows.

    ``parallel`` > 1 (CPU): that many batches are scored at once, each in a thread of its own
    on one intra-op thread. Why: on a 2-core machine the model's single thread was the
    bottleneck whenever the decode workers waited on a full queue (while torch loads, at the
    end of a scan), leaving a core idle; two batches in two threads use both cores then, and
    share them with the workers otherwise. Unlike two intra-op threads (1.4x, and two threads
    beside a busy worker wait on each other), each batch is computed exactly as by one thread,
    so scores are bit-identical; batches are the same and results come back in order.
    Use as a context manager (or ``close()``) to end the threads.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, batch_size: int,
                 parallel: int = 1):
        self.model = model
        self.device = device
        self.batch_size = max(1, batch_size)
        self.parallel = max(1, parallel)
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._pending_windows = 0
        self._pool = ThreadPoolExecutor(self.parallel, "tagger-model") if self.parallel > 1 else None
        # Batches handed to the pool, oldest first: (owners, the batch, its future).
        self._running: deque[tuple[list[tuple[int, int]], torch.Tensor, Future]] = deque()

    def __enter__(self) -> "BatchScorer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the scoring threads (waits for a batch still being scored)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._running.clear()

    def add(self, track: int, windows: torch.Tensor) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """Queue windows; yields ``(track, presence[k, C], foreground[k, C] | None)`` as batches
        are scored, in the order the windows came."""
        self._pending.append((track, windows))
        self._pending_windows += len(windows)
        while self._pending_windows >= self.batch_size:
            yield from self._run(self.batch_size)
        yield from self._finished(wait=False)

    def holds(self) -> set[int]:
        """Addresses of the storages that queued or running batches are views of: buffers
        still to be read."""
        held = {windows.untyped_storage().data_ptr() for _, windows in self._pending}
        held.update(batch.untyped_storage().data_ptr() for _, batch, _ in self._running)
        return held

    def flush(self) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        while self._pending_windows:
            yield from self._run(self._pending_windows)
        yield from self._finished(wait=True)

    def _run(self, size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        owners: list[tuple[int, int]] = []
        parts: list[torch.Tensor] = []
        taken = 0
        while taken < size:
            track, windows = self._pending[0]
            need = size - taken
            if len(windows) <= need:
                self._pending.pop(0)
                part = windows
            else:
                part, self._pending[0] = windows[:need], (track, windows[need:])
            parts.append(part)
            owners.append((track, len(part)))
            taken += len(part)
        self._pending_windows -= taken
        batch = joined(parts)
        if self._pool is None:
            yield from _split(owners, *self.score(batch))
            return
        if len(self._running) >= self.parallel:  # every thread busy: wait for the oldest
            yield from self._finished(wait=True, keep=self.parallel - 1)
        self._running.append((owners, batch, self._pool.submit(self.score, batch)))

    def _finished(self, *, wait: bool, keep: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """Results of the oldest running batches: those done (``wait=False``), or all but the
        newest ``keep``, waiting for them."""
        while len(self._running) > keep and (wait or self._running[0][2].done()):
            owners, _, future = self._running.popleft()
            yield from _split(owners, *future.result())

    @torch.inference_mode()
    def score(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities for a batch of windows; mixed precision on CUDA."""
        batch = batch.to(self.device, non_blocking=True)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else nullcontext()
        )
        with autocast:
            presence_logits, foreground_logits = self.model(batch)
        presence = torch.sigmoid(presence_logits.float()).cpu().numpy()
        foreground = (
            None if foreground_logits is None
            else torch.sigmoid(foreground_logits.float()).cpu().numpy()
        )
        return presence, foreground


def _split(owners: list[tuple[int, int]], presence: np.ndarray, foreground: np.ndarray | None
           ) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """A scored batch's rows back to the tracks they came from, in order."""
    offset = 0
    for track, count in owners:
        fg = None if foreground is None else foreground[offset : offset + count]
        yield track, presence[offset : offset + count], fg
        offset += count
