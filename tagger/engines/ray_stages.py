"""The code that runs on Ray workers: the decode task and the model actor.

Kept apart from the driver (``ray_engine``) so a worker imports only what it runs. Both stages
exchange plain column batches (dicts of numpy arrays) with one row per window:

``track``     global index of the track in the driver's list of tracks to scan (int64)
``window``    index of the window within its track (int32), ``-1`` on an error row
``total``     the track's window count, set on its *last* window row only, else ``-1``
``duration``  the decoded duration in seconds, on the last window row only, else ``0``
``error``     ``""``, or the one-line message of a track that failed to decode
``note``      what decode repaired in the track's audio (one line), on the last window row
              only, else ``""``
``audio``     the window's samples [window] float32 (an error row carries zeros)

Rows carry explicit indices because Ray may deliver them in any order and a retried task may
deliver them twice; the driver reassembles and de-duplicates by ``(track, window)``. The
last window carries the count instead of a separate "done" row so a finished track costs no
extra row, and the model never scores a padding row for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from tagger.pipeline.decode_stage import ChunkSpec, Done, Failed, Piece, TrackDataset
from tagger.pipeline.inference import BatchScorer

if TYPE_CHECKING:
    import ray

Batch = dict[str, np.ndarray]


def _one_line(message: str) -> str:
    """Arrow strings must be valid UTF-8: escape stray surrogates from undecodable names."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return (text.splitlines() or ["decode failed"])[0] or "decode failed"


def _rows(track: int, first: int, windows: np.ndarray, *, total: int = -1,
          duration: float = 0.0, note: str | None = None) -> Batch:
    """Column batch for consecutive windows of one track; the count goes on the last row."""
    k = len(windows)
    totals = np.full(k, -1, dtype=np.int32)
    durations = np.zeros(k, dtype=np.float64)
    notes = np.array([""] * k, dtype=object)
    if total >= 0:
        totals[-1], durations[-1] = total, duration
        notes[-1] = _one_line(note) if note else ""
    return {
        "track": np.full(k, track, dtype=np.int64),
        "window": np.arange(first, first + k, dtype=np.int32),
        "total": totals,
        "duration": durations,
        "error": np.array([""] * k, dtype=object),
        "note": notes,
        "audio": np.ascontiguousarray(windows, dtype=np.float32),
    }


def _error_row(track: int, message: str, window: int) -> Batch:
    return {
        "track": np.array([track], dtype=np.int64),
        "window": np.array([-1], dtype=np.int32),
        "total": np.array([-1], dtype=np.int32),
        "duration": np.zeros(1, dtype=np.float64),
        "error": np.array([_one_line(message)], dtype=object),
        "note": np.array([""], dtype=object),
        "audio": np.zeros((1, window), dtype=np.float32),
    }


def decode_tracks(batch: Batch, *, spec: ChunkSpec, chunks_per_piece: int) -> Iterator[Batch]:
    """Ray task: decode and chunk the batch's tracks with the local engine's dataset code.

    ``TrackDataset`` outside a DataLoader worker iterates all its tracks in order, so each
    track yields its pieces then a ``Done`` or ``Failed``. The newest piece is held back until
    the track's outcome is known: on ``Done`` it goes out with the window count on its last
    row; on ``Failed`` it is dropped and one error row goes out (windows already sent for a
    failed track are ignored by the driver, as the local engine ignores them).
    Yielding piece by piece keeps a long track out of memory as a whole.
    """
    torch.set_num_threads(1)  # decoding is numpy/C; one core per task, as Ray reserved
    tracks = [int(t) for t in batch["track"]]
    paths = [os.fsdecode(bytes(p)) for p in batch["path"]]
    dataset = TrackDataset(paths, spec, chunks_per_piece=chunks_per_piece)
    held: tuple[int, int, np.ndarray] | None = None  # (track, first window, windows)
    sent: dict[int, int] = {}  # track -> windows produced so far
    for item in dataset:
        track = tracks[item.track]
        if isinstance(item, Piece):
            windows = item.windows.numpy()
            if held is not None:
                yield _rows(*held)
            first = sent.get(track, 0)
            held = (track, first, windows)
            sent[track] = first + len(windows)
        elif isinstance(item, Done):
            if held is None or held[0] != track:
                yield _error_row(track, "decoder produced no windows", spec.window)
            else:
                yield _rows(*held, total=sent[track], duration=item.duration_s,
                            note=item.note)
            held = None
            sent.pop(track, None)
        elif isinstance(item, Failed):
            if held is not None and held[0] == track:
                held = None
            sent.pop(track, None)
            yield _error_row(track, item.message, spec.window)
    if held is not None:  # unreachable: every track ends with Done or Failed
        yield _error_row(held[0], "decoder stopped before the end of the track", spec.window)


class ModelActor:
    """Ray actor: one model copy, scoring window rows in batches (GPU when Ray gave it one).

    The model arrives as the driver's loaded module (pickled once into the object store), so
    every actor runs exactly the weights and card the driver resolved, and the model files do
    not have to exist on the workers. Error rows pass through unscored with zero scores.
    """

    def __init__(self, model: "torch.nn.Module | ray.ObjectRef", use_gpu: bool, threads: int,
                 batch_size: int):
        torch.set_num_threads(max(1, threads))
        if not isinstance(model, torch.nn.Module):  # an ObjectRef: Ray Data does not resolve
            import ray  # constructor arguments, and a plain call (tests) passes the module

            model = ray.get(model)
        self.device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
        if use_gpu and self.device.type != "cuda":
            raise RuntimeError("this actor was given a GPU by Ray, but torch sees no CUDA device")
        model = model.to(self.device).eval()
        self.scorer = BatchScorer(model, self.device, batch_size)

    def __call__(self, batch: Batch) -> Batch:
        audio = batch.pop("audio")
        errors = np.asarray(batch["error"])
        scored = np.array([e == "" for e in errors], dtype=bool)
        presence = foreground = None
        if scored.any():
            windows = torch.from_numpy(np.array(audio[scored], dtype=np.float32))
            p, f = self.scorer.score(windows)
            presence = np.zeros((len(errors), p.shape[1]), dtype=np.float32)
            presence[scored] = p
            if f is not None:
                foreground = np.zeros((len(errors), f.shape[1]), dtype=np.float32)
                foreground[scored] = f
        out = dict(batch)
        if presence is None:  # a batch of error rows only: shapes from a dummy window
            p, f = self.scorer.score(torch.zeros((1, audio.shape[1]), dtype=torch.float32))
            presence = np.zeros((len(errors), p.shape[1]), dtype=np.float32)
            foreground = None if f is None else np.zeros((len(errors), f.shape[1]), np.float32)
        out["presence"] = presence
        if foreground is not None:
            out["foreground"] = foreground
        return out
