"""What every scan engine shares: options, report, progress, sizing, planning, the result sink.

``tagger.pipeline.run.scan`` runs them for every engine (``tagger.engines``), so all engines
write the same store. Apart from ``scan()`` so the engines import these without importing the
function that imports the engines (no cycle). No torch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tagger.pipeline.discover import Candidate, Problem, discover
from tagger.model.card import ModelCard
from tagger.pipeline.rescan import can_skip
from tagger.store import Store, TrackResult

if TYPE_CHECKING:  # torch, numpy and the segmenter load only when there is a track to scan
    import numpy as np

# Commit finished tracks at least this often (seconds) or every this many tracks.
COMMIT_EVERY_S = 2.0
COMMIT_EVERY_TRACKS = 64
# Windows per model call on CPU: 8 was fastest for the shipped CNN on one thread (923x real
# time vs 716x at 4 and 341x at 32, which falls out of cache); see README Performance.
CPU_BATCH = 8


def default_workers(device_type: str = "cpu") -> int:
    """Decode workers for a scan on ``device_type`` ("cpu" or "cuda"); at least one, at most 8.

    CUDA: one per core but one, which feeds the GPU. CPU: decoding costs about twice what the
    shipped model does per second of audio (1.8 ms against 1.0 ms of CPU on the dev machine, see
    README Performance), so two thirds of the cores decode, rounded up: on 2 cores both decode
    beside the model's one thread (846x vs 620x real time with one worker, which left the
    model's core half idle).
    """
    cores = os.cpu_count() or 2
    if device_type == "cuda":
        return max(1, min(8, cores - 1))
    return max(1, min(8, cores - cores // 3))


def worker_count(requested: int | None, device_type: str, tracks: int) -> tuple[int, str | None]:
    """Decode workers to start, and a one-line note when fewer than ``requested``.

    Capped at two per core (decoding is CPU-bound; the second allows for slow disks) and at one
    per track (an idle worker still costs a process and its memory): ``--workers 1000`` once
    started 754 processes and took 7 GB before the scan even began.
    """
    wanted = default_workers(device_type) if requested is None else max(0, requested)
    cores = os.cpu_count() or 1
    n = min(wanted, 2 * cores, max(tracks, 1))
    if requested is None or n >= requested:
        return n, None
    why = f"{tracks} track(s) to scan" if n == tracks else f"2 per core, {cores} core(s)"
    return n, f"--workers {requested} capped to {n} ({why})"


def model_threads(requested: int | None, free_cores: float) -> int:
    """Torch threads for one model copy: ``requested``, else the cores the decoders leave it.

    More threads than free cores oversubscribe the CPU and intra-op threads then wait on each
    other: 2 threads beside a busy decode worker ran the network 10-40x slower than 1 thread on
    the 2-core dev machine. Used by every engine (local: cores minus decode workers; Ray: the
    CPUs reserved per model actor).
    """
    return requested or max(1, math.floor(free_cores))


def default_batch_size(device_type: str = "cpu") -> int:
    """Windows per model call when none is asked for: measured best for each device."""
    return 64 if device_type == "cuda" else CPU_BATCH


@dataclass
class ScanOptions:
    model: str | None = None
    device: str = "auto"
    workers: int | None = None  # decode workers; None: default_workers() for the device
    batch_size: int | None = None  # None: 8 windows on CPU, 64 on CUDA (measured best)
    threads: int | None = None  # torch threads for the model; None: cores left by workers
    force: bool = False
    retry_errors: bool = False  # rescan unchanged tracks whose last scan failed, whatever the error
    chunks_per_piece: int = 16
    # Decode the first tracks while torch and the model load (local engine, 2+ cores).
    head_start: bool = True


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
    # Skipped (counted in ``skipped``) but failed when last scanned: still failures to report.
    unchanged_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def x_realtime(self) -> float:
        return self.audio_seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0


class ScanProgress:
    """Callbacks a front end implements to show progress; the default does nothing."""

    def planned(self, to_scan: int, skipped: int) -> None: ...
    def track_done(self, path: str, audio_s: float, error: str | None) -> None: ...
    def problem(self, path: str, message: str) -> None: ...
    def notice(self, message: str) -> None: ...
    def track_note(self, path: str, note: str) -> None: ...


def plan(paths: Sequence[str], store: Store, model_id: str, *, force: bool,
         on_problem: Callable[[str, str], None], retry_errors: bool = False,
         unchanged_errors: list[tuple[str, str]] | None = None,
         ) -> tuple[list[Candidate], int, list[tuple[str, str]]]:
    """Discover files and drop the unchanged ones: (to scan, skipped count, problems).

    Unchanged files whose stored row is a permanent error are skipped too, and appended to
    ``unchanged_errors`` as (path, error) so the scan still reports them; transient errors are
    retried (:mod:`tagger.pipeline.rescan`)."""
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
        if previous is not None and can_skip(previous, found, model_id,
                                             retry_errors=retry_errors):
            skipped += 1
            if previous.status != "ok" and unchanged_errors is not None:
                unchanged_errors.append((found.path, previous.error or "unknown error"))
        else:
            to_scan.append(found)
    return to_scan, skipped, problems


def start_scan(paths: Sequence[str], store: Store, options: ScanOptions, progress: ScanProgress
               ) -> tuple[ScanReport, list[Candidate], float]:
    """What every engine does first: read the model's card (its weights load only if there is
    work), discover and skip unchanged tracks, tell the progress display. Returns the report to
    fill, the tracks to scan and the start time."""
    from tagger.model.registry import find_card

    card = ModelCard.load(find_card(options.model))
    report = ScanReport(model=card.id)
    started = time.perf_counter()
    to_scan, report.skipped, report.problems = plan(
        paths, store, card.id, force=options.force, on_problem=progress.problem,
        retry_errors=options.retry_errors,
        unchanged_errors=report.unchanged_errors)
    report.found = len(to_scan) + report.skipped
    progress.planned(len(to_scan), report.skipped)
    return report, to_scan, started


class ResultSink:
    """Where finished tracks go, whatever the engine: segments, the store, report, progress.

    Tracks are committed in small transactions (every ``COMMIT_EVERY_TRACKS`` tracks or
    ``COMMIT_EVERY_S`` seconds), so a killed scan loses only the tracks in flight.
    """

    def __init__(self, store: Store, card: ModelCard, report: ScanReport, progress: ScanProgress,
                 on_written: Callable[[list[TrackResult]], None] | None = None):
        self.store, self.card, self.report, self.progress = store, card, report, progress
        from tagger.pipeline.segments import SegmenterConfig

        self.on_written = on_written
        self.segmenter = SegmenterConfig.from_card(card)
        self.buffer: list[TrackResult] = []
        self.last = time.monotonic()

    def ok(self, candidate: Candidate, presence: np.ndarray, foreground: np.ndarray | None,
           duration_s: float, note: str | None = None) -> None:
        from tagger.pipeline.segments import segment_track

        segments, summary = segment_track(presence, foreground, duration_s=duration_s,
                                          config=self.segmenter)
        card = self.card
        self._add(TrackResult(
            path=candidate.path, size=candidate.size, mtime_ns=candidate.mtime_ns, model=card.id,
            duration=round(duration_s, 3), format=candidate.format, segments=segments,
            instruments=summary, classes=list(card.classes), window_s=card.window_s,
            hop_s=card.hop_s, presence=presence, foreground=foreground, note=note))
        self.report.scanned += 1
        self.report.audio_seconds += duration_s
        if note:
            self.progress.track_note(candidate.path, note)
        self.progress.track_done(candidate.path, duration_s, None)

    def failed(self, candidate: Candidate, message: str) -> None:
        self._add(TrackResult(path=candidate.path, size=candidate.size,
                              mtime_ns=candidate.mtime_ns, model=self.card.id, status="error",
                              error=message, format=candidate.format))
        self.report.failed += 1
        self.report.failures.append((candidate.path, message))
        self.progress.track_done(candidate.path, 0.0, message)

    def _add(self, result: TrackResult) -> None:
        self.buffer.append(result)
        if (len(self.buffer) >= COMMIT_EVERY_TRACKS
                or time.monotonic() - self.last > COMMIT_EVERY_S):
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            refused = self.store.write_results(self.buffer)
            for result, reason in refused:  # stored as error rows: count them as failures
                self.report.scanned -= 1
                self.report.audio_seconds -= result.duration or 0.0
                self.report.failed += 1
                self.report.failures.append((result.path, reason))
                self.progress.problem(result.path, reason)
            if self.on_written:
                bad = {id(r) for r, _ in refused}
                self.on_written([r for r in self.buffer if id(r) not in bad])
        self.buffer = []
        self.last = time.monotonic()
