"""The local engine: DataLoader workers decode and chunk, this process batches and scores.

Workers send ``Bundle``s (many short tracks per hand-off, see
:class:`tagger.pipeline.decode_stage.Bundle`);
windows of different tracks share model batches; finished tracks go to the ``ResultSink``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from tagger.pipeline.decode_stage import (Bundle, BundledTracks, ChunkSpec, Done, Failed,
                                          die_with_parent)
from tagger.pipeline.discover import Candidate
from tagger.pipeline.inference import BatchScorer
from tagger.model.card import ModelCard
from tagger.pipeline.scanning import (ResultSink, ScanOptions, ScanProgress, default_batch_size,
                                      worker_count)


class _TrackScores:
    """Per-track windows received from the decoders versus scored by the model."""

    def __init__(self) -> None:
        self.received = 0
        self.presence: list[np.ndarray] = []
        self.foreground: list[np.ndarray] = []
        self.scored = 0
        self.duration_s: float | None = None  # set when the decoder finished the track
        self.note: str | None = None  # what decode repaired, from its Done

    @property
    def complete(self) -> bool:
        return self.duration_s is not None and self.scored == self.received


def _start_workers(loader: DataLoader) -> Iterator[Any]:
    """``iter(loader)`` with Ctrl-C ignored while the workers fork: they inherit that, so an
    interrupt during their start-up reaches only this process, which saves what is finished
    (a worker killed by it would turn the interrupt into failed tracks)."""
    if not loader.num_workers or threading.current_thread() is not threading.main_thread():
        return iter(loader)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return iter(loader)
    finally:
        signal.signal(signal.SIGINT, previous)


def run_local(to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard,
              device: torch.device, options: ScanOptions, sink: ResultSink,
              progress: ScanProgress) -> None:
    """Scan ``to_scan`` on this machine, every finished or failed track handed to ``sink``."""
    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    dataset = BundledTracks([c.path for c in to_scan], spec,
                            chunks_per_piece=options.chunks_per_piece,
                            bundle_windows=options.chunks_per_piece)
    workers, capped = worker_count(options.workers, device.type, len(to_scan))
    if capped:
        progress.notice(capped)
    loader = DataLoader(
        dataset, batch_size=None, num_workers=workers,
        pin_memory=device.type == "cuda", prefetch_factor=4 if workers else None,
        worker_init_fn=partial(die_with_parent, os.getpid()) if workers else None,
    )
    batch_size = options.batch_size or default_batch_size(device.type)
    if device.type == "cpu":
        # Threads beyond the cores the decode workers leave free oversubscribe the CPU, and
        # intra-op threads then wait on each other: 2 threads beside a busy worker ran the
        # network 10-40x slower than 1 thread on the 2-core dev machine.
        torch.set_num_threads(options.threads or max(1, (os.cpu_count() or 1) - workers))
    scorer = BatchScorer(model, device, batch_size)
    tracks: dict[int, _TrackScores] = {}

    def finish_if_complete(index: int) -> None:
        state = tracks[index]
        if state.complete:
            del tracks[index]
            fg = np.concatenate(state.foreground) if state.foreground else None
            presence = state.presence[0] if len(state.presence) == 1 else np.concatenate(
                state.presence)
            sink.ok(to_scan[index], presence, fg, state.duration_s or 0.0, state.note)

    def collect(outputs: Iterator[tuple[int, np.ndarray, np.ndarray | None]]) -> None:
        for index, probs, fg in outputs:
            state = tracks.get(index)
            if state is None:  # the track failed after some of its windows were queued
                continue
            state.presence.append(probs)
            state.scored += len(probs)
            if fg is not None:
                state.foreground.append(fg)
            finish_if_complete(index)

    def end(item: Done | Failed) -> None:
        if isinstance(item, Done):
            state = tracks.setdefault(item.track, _TrackScores())
            state.duration_s, state.note = item.duration_s, item.note
            finish_if_complete(item.track)  # else when its last windows are scored
        else:
            tracks.pop(item.track, None)
            sink.failed(to_scan[item.track], item.message)

    for bundle in _start_workers(loader):
        assert isinstance(bundle, Bundle)
        start = 0
        for track, count in bundle.pieces:
            tracks.setdefault(track, _TrackScores()).received += count
            collect(scorer.add(track, bundle.windows[start : start + count]))
            start += count
        for item in bundle.ends:
            end(item)
    collect(scorer.flush())
