"""One track decoded and cut into pieces of windows, for whichever process decodes it.

The DataLoader workers (``decode_stage``) and the head start (``head_start``) run this same
loop; it imports no torch, so the head start can run it while the scan process imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import numpy as np

from tagger.pipeline.chunking import stream_pieces


@dataclass(frozen=True)
class ChunkSpec:
    """How to cut audio for a model: sample rate, window and hop in samples."""

    sample_rate: int
    window: int
    hop: int

    @classmethod
    def from_seconds(cls, sample_rate: int, window_s: float, hop_s: float) -> "ChunkSpec":
        return cls(sample_rate, int(round(window_s * sample_rate)), int(round(hop_s * sample_rate)))


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


TrackEnd = Union[Done, Failed]


def decode_track(index: int, path: str, spec: ChunkSpec, *, chunks_per_piece: int,
                 block_s: float = 30.0) -> Iterator[np.ndarray | TrackEnd]:
    """Pieces [k, window] of track ``index`` in order, then its ``Done`` or ``Failed``.

    Windows already yielded stay valid when the track fails later (a damaged end): the
    ``Failed`` tells the consumer to drop them. Never raises for a bad file.
    """
    # Imported here so a process loads the decoders only when it decodes.
    from tagger.audio.decode import DecodeError, decode_blocks

    samples = 0
    notes: list[str] = []

    def counted(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal samples
        for block in blocks:
            samples += len(block)
            yield block

    try:
        blocks = counted(decode_blocks(path, sample_rate=spec.sample_rate, block_s=block_s,
                                       notes=notes))
        for windows in stream_pieces(blocks, window=spec.window, hop=spec.hop,
                                     chunks_per_piece=chunks_per_piece):
            if samples == 0:
                break
            yield windows
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
