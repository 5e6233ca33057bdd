"""The local engine: DataLoader workers decode and chunk, this process batches and scores.

A head start (:mod:`tagger.pipeline.head_start`) decodes the first tracks while torch and the
model load; its windows are scored first, then the workers' (they take the tracks it left).

Workers send ``Bundle``s (many short tracks per hand-off, see
:class:`tagger.pipeline.decode_stage.Bundle`); windows of different tracks share model batches;
the ``TrackAssembler`` hands finished tracks to the ``ResultSink``. torch loads only in ``run``
(``tagger.engines`` is imported by every scan, also one that finds nothing to do).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from tagger.engines.base import Engine
from tagger.pipeline.discover import Candidate
from tagger.pipeline.scanning import (ResultSink, ScanOptions, ScanProgress, default_batch_size,
                                      model_threads, worker_count)

if TYPE_CHECKING:
    import torch
    from torch.utils.data import DataLoader

    from tagger.model.card import ModelCard
    from tagger.pipeline.head_start import HeadStart


PREFETCH = 4  # bundles each DataLoader worker may have ready ahead of this process


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


class LocalEngine(Engine):
    """Decode workers on this machine (``ScanOptions.workers``), the model in this process."""

    name = "local"

    def __init__(self) -> None:
        self._head: HeadStart | None = None

    def check(self, options: ScanOptions) -> None:
        if options.device.startswith("cuda"):  # torch: only to check for CUDA up front
            from tagger.pipeline.inference import pick_device

            pick_device(options.device)

    @contextmanager
    def head_start(self, to_scan: list[Candidate], options: ScanOptions) -> Iterator[None]:
        """Start decoding ``to_scan`` now, in one process, if a core would idle while torch
        loads: 2+ cores and decode workers wanted (``--workers 0`` decodes in this process)."""
        if not (options.head_start and (os.cpu_count() or 1) >= 2 and options.workers != 0):
            yield
            return
        from tagger.audio.decode import import_codecs
        from tagger.model.card import ModelCard
        from tagger.model.registry import find_card
        from tagger.pipeline.head_start import HeadStart
        from tagger.pipeline.track_decode import ChunkSpec
        from tagger.pipeline.workers import TrackClaims

        try:
            card = ModelCard.load(find_card(options.model))
        except Exception:  # loading the model says what is wrong with it, in one line
            yield
            return
        spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
        with HeadStart([c.path for c in to_scan], spec, TrackClaims(len(to_scan)),
                       chunks_per_piece=options.chunks_per_piece) as head:
            self._head = head
            try:  # the workers are forked from this process later: they then start with these
                import_codecs()
            except Exception:  # a codec library that does not load says so on its first file
                pass
            try:
                yield
            finally:
                self._head = None

    def run(self, to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard,
            device: torch.device, options: ScanOptions, sink: ResultSink,
            progress: ScanProgress) -> list[Candidate]:
        return run_local(to_scan, model, card, device, options, sink, progress, self._head)


def run_local(to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard,
              device: torch.device, options: ScanOptions, sink: ResultSink,
              progress: ScanProgress, head: HeadStart | None = None) -> list[Candidate]:
    """Scan ``to_scan`` on this machine, every finished or failed track handed to ``sink``;
    ``head``: a head start already decoding them (same card), whose tracks are scored first."""
    import torch
    from torch.utils.data import DataLoader

    from tagger.pipeline.assemble import TrackAssembler
    from tagger.pipeline.bundle_buffers import BundleBuffers
    from tagger.pipeline.decode_stage import Bundle, BundledTracks, ChunkSpec, Done
    from tagger.pipeline.head_start import HeadPiece
    from tagger.pipeline.inference import BatchScorer
    from tagger.pipeline.workers import TrackClaims, die_with_parent

    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    if head is not None and head.spec != spec:  # cut for another card: not this model's
        head.stop()
        head = None
    claims = head.claims if head is not None else TrackClaims(len(to_scan))
    workers, capped = worker_count(options.workers, device.type, len(to_scan))
    if capped:
        progress.notice(capped)
    dataset = BundledTracks([c.path for c in to_scan], spec,
                            chunks_per_piece=options.chunks_per_piece,
                            bundle_windows=options.chunks_per_piece, claims=claims)
    # Enough buffers per worker for its bundles in the DataLoader's queue and the two this
    # process may still be reading: a worker then rarely makes a fresh one.
    dataset.buffers = BundleBuffers(workers, PREFETCH + 2, dataset.most_windows(), spec.window)
    loader = DataLoader(
        dataset, batch_size=None, num_workers=workers,
        pin_memory=device.type == "cuda", prefetch_factor=PREFETCH if workers else None,
        worker_init_fn=partial(die_with_parent, os.getpid()) if workers else None,
    )
    batch_size = options.batch_size or default_batch_size(device.type)
    parallel = 1
    if device.type == "cpu":  # the model gets the cores the decode workers leave free
        torch.set_num_threads(model_threads(options.threads, (os.cpu_count() or 1) - workers))
        parallel = scoring_threads(options.threads, torch.get_num_threads(), workers)
    scorer = BatchScorer(model, device, batch_size, parallel=parallel)
    tracks = TrackAssembler(to_scan, sink)
    queued: dict[int, int] = {}  # track -> its windows sent to the model so far

    def collect(outputs: Iterator[tuple[int, Any, Any]]) -> None:
        for index, presence, foreground in outputs:  # each track's windows come back in order
            tracks.scored(index, presence, foreground)

    def add(track: int, windows: torch.Tensor) -> None:
        queued[track] = queued.get(track, 0) + len(windows)
        collect(scorer.add(track, windows))

    def end(item: Any) -> None:  # a Done or Failed, after its track's last windows
        windows = queued.pop(item.track, 0)
        if isinstance(item, Done):
            tracks.decoded(item.track, windows, item.duration_s, item.note)
        else:
            tracks.failed(item.track, item.message)

    bundles = _start_workers(loader)
    with scorer:
        if head is not None:
            head.stop()  # the workers take the tracks it has not started
            for item in head.results():
                if isinstance(item, HeadPiece):
                    add(item.track, torch.from_numpy(item.windows))
                else:
                    end(item)
        for bundle in bundles:
            assert isinstance(bundle, Bundle)
            start = 0
            for track, count in bundle.pieces:
                add(track, bundle.windows[start : start + count])
                start += count
            for item in bundle.ends:
                end(item)
            dataset.buffers.received(bundle.slot, bundle.windows)
            dataset.buffers.release_unread(scorer.holds())
        collect(scorer.flush())
    return tracks.unfinished()


def scoring_threads(requested_threads: int | None, intra_op: int, workers: int) -> int:
    """Batches the CPU model scores at once (``BatchScorer(parallel=...)``): two where it has
    one intra-op thread and decode workers beside it, so that it takes both cores whenever the
    workers wait on a full queue; one when ``--threads`` was given or with more intra-op threads
    (two teams of intra-op threads beside busy workers would oversubscribe the cores)."""
    if requested_threads is not None or intra_op > 1 or workers == 0 or (os.cpu_count() or 1) < 2:
        return 1
    return 2
