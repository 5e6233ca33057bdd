"""The main job as a library call: ``scan(paths, store=...)``, whatever the engine.

discover -> skip unchanged -> the engine decodes, chunks and scores -> track assembler ->
segmenter -> store, committing finished tracks in small transactions so a killed scan resumes.
Everything but *where* decoding and scoring run is here, once, for every engine
(``tagger.engines``). This module imports no torch: a re-scan of an unchanged library loads
neither torch nor the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from tagger.engines import Engine, make_engine
from tagger.pipeline.scanning import ResultSink, ScanOptions, ScanProgress, ScanReport, start_scan
from tagger.store import Store, TrackResult


def scan(
    paths: Sequence[str],
    *,
    store: Store,
    options: ScanOptions | None = None,
    progress: ScanProgress | None = None,
    on_written: Callable[[list[TrackResult]], None] | None = None,
    engine: Engine | str = "local",
) -> ScanReport:
    """Scan ``paths`` into ``store``; failing files become error rows, never exceptions.

    ``engine`` is an ``Engine`` (e.g. ``RayEngine(RayOptions(address=...))``) or a name in
    ``tagger.engines.ENGINES``. The engine's session (a cluster connection) and the model are
    taken only when there is something to scan. Whatever stops a run (Ctrl-C, an error, a
    cluster giving up) keeps every finished track; the next scan resumes.
    """
    options = options or ScanOptions()
    progress = progress or ScanProgress()
    runner = make_engine(engine) if isinstance(engine, str) else engine
    report, to_scan, started = start_scan(paths, store, options, progress)
    if to_scan:
        from tagger.model.registry import load_model_for_scanning

        with runner.head_start(to_scan, options), runner.session(options) as device:
            model, card = load_model_for_scanning(options.model, device=device)
            run_id = store.start_run(model=card.id, paths=[os.fsdecode(p) for p in paths])
            sink = ResultSink(store, card, report, progress, on_written)
            try:
                unfinished = runner.run(to_scan, model, card, device, options, sink, progress)
            finally:  # Ctrl-C or an error between commits keeps every finished track
                sink.flush()
            for track in unfinished:
                report.problems.append((track.path, runner.unfinished_message))
                progress.problem(track.path, runner.unfinished_message)
            store.finish_run(run_id, scanned=report.scanned, skipped=report.skipped,
                             failed=report.failed, audio_seconds=report.audio_seconds)
    report.elapsed_s = time.perf_counter() - started
    return report
