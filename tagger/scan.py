"""The main job as a library call: ``scan(paths, store=...)``.

discover -> skip unchanged -> DataLoader workers decode and chunk -> batched model ->
segmenter -> store, committing finished tracks in small transactions so a killed scan resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from tagger.dataset import ChunkSpec, Done, Failed, Piece, TrackDataset
from tagger.discover import Candidate, Problem, discover
from tagger.inference import BatchScorer, pick_device
from tagger.model.card import ModelCard
from tagger.segments import SegmenterConfig, segment_track
from tagger.store import Store, TrackResult

# Commit finished tracks at least this often (seconds) or every this many tracks.
COMMIT_EVERY_S = 2.0
COMMIT_EVERY_TRACKS = 64


def default_workers() -> int:
    """One decode worker per core, leaving one core to the model; at least one."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


@dataclass
class ScanOptions:
    model: str | None = None
    device: str = "auto"
    workers: int = field(default_factory=default_workers)
    batch_size: int = 32
    force: bool = False
    chunks_per_piece: int = 16


@dataclass
class ScanReport:
    model: str = ""
    found: int = 0
    scanned: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    elapsed_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    written_paths: list[str] = field(default_factory=list)

    @property
    def x_realtime(self) -> float:
        return self.audio_seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0


class ScanProgress:
    """Callbacks a front end implements to show progress; the default does nothing."""

    def planned(self, to_scan: int, skipped: int) -> None: ...
    def track_done(self, path: str, audio_s: float, error: str | None) -> None: ...
    def problem(self, path: str, message: str) -> None: ...


def plan(paths: Sequence[str], store: Store, model_id: str, *, force: bool,
         on_problem: Callable[[str, str], None]) -> tuple[list[Candidate], int, list[tuple[str, str]]]:
    """Discover files and drop the unchanged ones: (to scan, skipped count, problems)."""
    known = {} if force else store.known_tracks()
    to_scan: list[Candidate] = []
    skipped = 0
    problems: list[tuple[str, str]] = []
    for found in discover(paths):
        if isinstance(found, Problem):
            problems.append((found.path, found.message))
            on_problem(found.path, found.message)
            continue
        previous = known.get(os.fsencode(found.path))
        if (previous is not None and previous.size == found.size
                and previous.mtime_ns == found.mtime_ns and previous.model == model_id):
            skipped += 1
        else:
            to_scan.append(found)
    return to_scan, skipped, problems


def scan(
    paths: Sequence[str],
    *,
    store: Store,
    options: ScanOptions | None = None,
    progress: ScanProgress | None = None,
    on_written: Callable[[list[TrackResult]], None] | None = None,
) -> ScanReport:
    """Scan ``paths`` into ``store``; failing files become error rows, never exceptions."""
    from tagger.model.registry import find_card, load_model

    options = options or ScanOptions()
    progress = progress or ScanProgress()
    device = pick_device(options.device)
    card = ModelCard.load(find_card(options.model))  # the weights load only if there is work
    report = ScanReport(model=card.id)
    started = time.perf_counter()
    to_scan, report.skipped, report.problems = plan(
        paths, store, card.id, force=options.force, on_problem=progress.problem)
    report.found = len(to_scan) + report.skipped
    progress.planned(len(to_scan), report.skipped)
    if to_scan:
        model, card = load_model(options.model, device=device)
        run_id = store.start_run(model=card.id, paths=[os.fsdecode(p) for p in paths])
        _run(to_scan, model, card, device, options, store, report, progress, on_written)
        store.finish_run(run_id, scanned=report.scanned, skipped=report.skipped,
                         failed=report.failed, audio_seconds=report.audio_seconds)
    report.elapsed_s = time.perf_counter() - started
    return report


class _Writer:
    """Buffers finished tracks and commits them in small transactions."""

    def __init__(self, store: Store, on_written: Callable[[list[TrackResult]], None] | None):
        self.store = store
        self.on_written = on_written
        self.buffer: list[TrackResult] = []
        self.last = time.monotonic()

    def add(self, result: TrackResult) -> None:
        self.buffer.append(result)
        if len(self.buffer) >= COMMIT_EVERY_TRACKS or time.monotonic() - self.last > COMMIT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.store.write_results(self.buffer)
            if self.on_written:
                self.on_written(self.buffer)
        self.buffer = []
        self.last = time.monotonic()


def _run(to_scan: list[Candidate], model: torch.nn.Module, card: ModelCard, device: torch.device,
         options: ScanOptions, store: Store, report: ScanReport, progress: ScanProgress,
         on_written: Callable[[list[TrackResult]], None] | None) -> None:
    spec = ChunkSpec.from_seconds(card.sample_rate, card.window_s, card.hop_s)
    dataset = TrackDataset([c.path for c in to_scan], spec, chunks_per_piece=options.chunks_per_piece)
    workers = max(0, options.workers)
    loader = DataLoader(
        dataset, batch_size=None, num_workers=workers,
        pin_memory=device.type == "cuda", prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    segmenter = SegmenterConfig(classes=card.classes, thresholds=[card.threshold(c) for c in card.classes],
                                window_s=card.window_s, hop_s=card.hop_s)
    scorer = BatchScorer(model, device, options.batch_size)
    writer = _Writer(store, on_written)
    presence: dict[int, list[np.ndarray]] = {}
    foreground: dict[int, list[np.ndarray]] = {}
    received: dict[int, int] = {}
    scored: dict[int, int] = {}
    finished: dict[int, float] = {}

    def collect(outputs) -> None:
        for track, probs, fg in outputs:
            if track not in received:  # the track failed after some of its windows were queued
                continue
            presence[track].append(probs)
            if fg is not None:
                foreground[track].append(fg)
            scored[track] += len(probs)
            maybe_finish(track)

    def maybe_finish(track: int) -> None:
        if track in finished and scored[track] == received[track]:
            if not presence[track]:
                return
            duration = finished.pop(track)
            fg_list = foreground.pop(track)
            probs = np.concatenate(presence.pop(track))
            fg = np.concatenate(fg_list) if fg_list else None
            received.pop(track), scored.pop(track)
            segments, summary = segment_track(probs, fg, duration_s=duration, config=segmenter)
            candidate = to_scan[track]
            writer.add(TrackResult(
                path=candidate.path, size=candidate.size, mtime_ns=candidate.mtime_ns,
                model=card.id, duration=round(duration, 3), format=candidate.format,
                segments=segments, instruments=summary, classes=list(card.classes),
                window_s=card.window_s, hop_s=card.hop_s, presence=probs, foreground=fg))
            report.scanned += 1
            report.audio_seconds += duration
            report.written_paths.append(candidate.path)
            progress.track_done(candidate.path, duration, None)

    for item in loader:
        if isinstance(item, Piece):
            if item.track not in received:
                received[item.track], scored[item.track] = 0, 0
                presence[item.track], foreground[item.track] = [], []
            received[item.track] += len(item.windows)
            collect(scorer.add(item.track, item.windows))
        elif isinstance(item, Done):
            if item.track not in received:
                received[item.track], scored[item.track] = 0, 0
                presence[item.track], foreground[item.track] = [], []
            finished[item.track] = item.duration_s
            maybe_finish(item.track)  # else it finishes when its last windows are scored
        elif isinstance(item, Failed):
            for table in (received, scored, presence, foreground):
                table.pop(item.track, None)
            candidate = to_scan[item.track]
            writer.add(TrackResult(path=candidate.path, size=candidate.size,
                                   mtime_ns=candidate.mtime_ns, model=card.id, status="error",
                                   error=item.message, format=candidate.format))
            report.failed += 1
            report.failures.append((candidate.path, item.message))
            progress.track_done(candidate.path, 0.0, item.message)
    collect(scorer.flush())
    writer.flush()
