"""Shared-memory buffers the DataLoader workers reuse for their bundles' windows.

Why: a fresh shared-memory tensor per bundle cost its worker 10.5 ms per 16 windows (a new
segment, and 2,700 page faults zero-filling it), and the scan process faults it in once more
to read it; reusing a buffer costs the copy alone (0.5 ms). On 1,000 short clips that was
about a tenth of all the CPU the decode workers used (issue 14).

Each worker owns ``per_worker`` buffers of ``capacity`` windows, made on first use. A flag per
buffer in memory shared with the scan process says who has it: the worker sets it when it
fills the buffer, the scan process clears it once nothing it still has to score is in it
(``release_unread``). A worker that finds all of its buffers held, or a bundle larger than a buffer,
makes a fresh tensor as before, so nobody ever waits on a buffer.
"""

from __future__ import annotations

import multiprocessing

import torch


class BundleBuffers:
    """Buffers [capacity, window] float32 for ``workers`` workers, ``per_worker`` each."""

    def __init__(self, workers: int, per_worker: int, capacity: int, window: int):
        self.per_worker, self.capacity, self.window = per_worker, capacity, window
        self._held = multiprocessing.RawArray("b", max(1, workers * per_worker))
        self._buffers: dict[int, torch.Tensor] = {}  # made in the worker that uses them
        self._mapped: dict[int, torch.Tensor] = {}  # in the scan process: last seen per slot

    def take(self, worker: int, windows: int) -> tuple[int | None, torch.Tensor]:
        """(slot, a [windows, window] tensor in shared memory) for worker ``worker`` to fill
        and send; slot None: a fresh tensor, nothing to release."""
        first = worker * self.per_worker
        if windows <= self.capacity and first + self.per_worker <= len(self._held):
            for slot in range(first, first + self.per_worker):
                if not self._held[slot]:
                    buffer = self._buffers.get(slot)
                    if buffer is None:
                        buffer = self._buffers[slot] = shared_empty(self.capacity, self.window)
                    self._held[slot] = 1
                    return slot, buffer[:windows]
        return None, shared_empty(windows, self.window)

    def received(self, slot: int | None, windows: torch.Tensor) -> None:
        """In the scan process: a bundle arrived in ``slot``. Holding on to it matters: torch
        finds a received storage by its segment while the last one is alive, so the next
        bundle in this buffer arrives in the same mapping instead of a new one to fault in page
        by page (without this, each buffer was mapped 2-3 times over a scan of 1,000 clips)."""
        if slot is not None:
            self._mapped[slot] = windows

    def release_unread(self, reading: set[int]) -> None:
        """In the scan process: let go of every received buffer whose storage is not in
        ``reading`` (the storages queued windows are views of, ``BatchScorer.holds``)."""
        for slot, windows in self._mapped.items():
            if self._held[slot] and windows.untyped_storage().data_ptr() not in reading:
                self._held[slot] = 0

    def release(self, slot: int | None) -> None:
        """The scan process will not read the bundle in ``slot`` again: its worker may refill it."""
        if slot is not None:
            self._held[slot] = 0


def shared_empty(rows: int, columns: int) -> torch.Tensor:
    """An uninitialised float32 [rows, columns] tensor in shared memory, made there directly.

    ``torch.empty(...).share_memory_()`` allocates the tensor, then a segment, and copies the
    one into the other: every page faulted in twice, also pages a bundle never fills (a buffer
    holds the largest bundle, ~31 windows; most have 16-17). Measured in a forked worker: 20
    vs 13 ms for a 31-window buffer. ``_new_shared`` is what torch's own sharing uses; the
    fallback keeps a torch without it working.
    """
    new_shared = getattr(torch.UntypedStorage, "_new_shared", None)
    if new_shared is None:
        return torch.empty((rows, columns), dtype=torch.float32).share_memory_()
    storage = new_shared(rows * columns * 4)
    return torch.empty(0, dtype=torch.float32).set_(storage, 0, (rows, columns), (columns, 1))
