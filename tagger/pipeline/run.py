"""The main job as a library call: ``scan(paths, store=...)``.

discover -> skip unchanged -> DataLoader workers decode and chunk -> batched model ->
segmenter -> store, committing finished tracks in small transactions so a killed scan resumes.
This module imports no torch: a re-scan of an unchanged library loads neither torch nor the
model (the local engine is :mod:`tagger.engines.local`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

# Re-exported: the library API (`from tagger.pipeline.run import scan, ScanOptions`).
from tagger.pipeline.scanning import (COMMIT_EVERY_S, COMMIT_EVERY_TRACKS, CPU_BATCH,  # noqa: F401
                             ResultSink, ScanOptions, ScanProgress, ScanReport, default_batch_size,
                             default_workers, plan, start_scan, worker_count)
from tagger.store import Store, TrackResult


def scan(
    paths: Sequence[str],
    *,
    store: Store,
    options: ScanOptions | None = None,
    progress: ScanProgress | None = None,
    on_written: Callable[[list[TrackResult]], None] | None = None,
) -> ScanReport:
    """Scan ``paths`` into ``store``; failing files become error rows, never exceptions."""
    options = options or ScanOptions()
    progress = progress or ScanProgress()
    report, to_scan, started = start_scan(paths, store, options, progress)
    if to_scan:
        from tagger.engines.local import run_local
        from tagger.pipeline.inference import pick_device
        from tagger.model.registry import load_model_for_scanning

        device = pick_device(options.device)
        model, card = load_model_for_scanning(options.model, device=device)
        run_id = store.start_run(model=card.id, paths=[os.fsdecode(p) for p in paths])
        sink = ResultSink(store, card, report, progress, on_written)
        try:
            run_local(to_scan, model, card, device, options, sink, progress)
        finally:  # Ctrl-C or an error between commits keeps every finished track
            sink.flush()
        store.finish_run(run_id, scanned=report.scanned, skipped=report.skipped,
                         failed=report.failed, audio_seconds=report.audio_seconds)
    report.elapsed_s = time.perf_counter() - started
    return report
