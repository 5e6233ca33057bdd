"""Cut a stream of audio blocks into fixed, overlapping windows without holding the track.

Works on sample counts; the model card gives ``window_s`` and ``hop_s`` and the caller converts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np


def chunk_count(n_samples: int, *, window: int, hop: int) -> int:
    """Windows needed to cover ``n_samples``: at least one (short tracks are padded)."""
    if n_samples <= window:
        return 1
    return 1 + math.ceil((n_samples - window) / hop)


def frame(audio: np.ndarray, *, window: int, hop: int) -> np.ndarray:
    """All windows of a whole signal as a [chunks, window] array, zero-padding the end."""
    n = chunk_count(len(audio), window=window, hop=hop)
    needed = (n - 1) * hop + window
    if len(audio) < needed:
        audio = np.concatenate([audio, np.zeros(needed - len(audio), dtype=audio.dtype)])
    return np.lib.stride_tricks.sliding_window_view(audio, window)[::hop][:n].copy()


def stream_pieces(
    blocks: Iterable[np.ndarray], *, window: int, hop: int, chunks_per_piece: int
) -> Iterator[np.ndarray]:
    """Regroup decoded blocks into pieces of up to ``chunks_per_piece`` windows [k, window].

    Memory stays at about one block plus one piece whatever the track's length, and the
    concatenated pieces equal ``frame()`` of the whole signal (same windows, same padding).
    """
    if hop <= 0 or window <= 0 or hop > window or chunks_per_piece <= 0:
        raise ValueError("need 0 < hop <= window and chunks_per_piece > 0")
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute sample index of buffer[0]
    next_chunk = 0
    total = 0
    ready: list[np.ndarray] = []
    ready_count = 0
    owned = False  # buffer is an array made here, which nothing else writes to

    def take(available_end: int) -> None:
        nonlocal buffer, buffer_start, next_chunk, ready_count
        first = next_chunk * hop
        if available_end < first + window:
            return
        count = (available_end - first - window) // hop + 1
        local = buffer[first - buffer_start : first - buffer_start + (count - 1) * hop + window]
        if owned and (count == 1 or hop == window):  # back-to-back windows of our own copy
            ready.append(local.reshape(count, window))
        else:
            ready.append(np.lib.stride_tricks.sliding_window_view(local, window)[::hop].copy())
        ready_count += count
        next_chunk += count
        keep_from = next_chunk * hop
        buffer = buffer[keep_from - buffer_start :]
        buffer_start = keep_from

    def pieces(final: bool) -> Iterator[np.ndarray]:
        nonlocal ready, ready_count
        if not ready:
            return
        joined = np.concatenate(ready) if len(ready) > 1 else ready[0]
        cut = len(joined) if final else len(joined) - len(joined) % chunks_per_piece
        for start in range(0, cut, chunks_per_piece):
            yield joined[start : start + chunks_per_piece]
        rest = joined[cut:]
        ready = [rest] if len(rest) else []
        ready_count = len(rest)

    for block in blocks:
        total += len(block)
        block = np.asarray(block, dtype=np.float32)
        # The first block is kept as it comes (no copy): the decoder hands out a fresh array per
        # block, and a caller must not refill a block it has handed over.
        owned = bool(len(buffer))
        buffer = np.concatenate([buffer, block]) if owned else block
        take(total)
        if ready_count >= chunks_per_piece:
            yield from pieces(final=False)
    n_chunks = chunk_count(total, window=window, hop=hop)
    padded_end = (n_chunks - 1) * hop + window
    if next_chunk < n_chunks:
        pad = padded_end - (buffer_start + len(buffer))
        buffer = np.concatenate([buffer, np.zeros(max(pad, 0), dtype=np.float32)])
        owned = True
        take(padded_end)
    yield from pieces(final=True)
