"""Run the two benchmarks for a model: ``realdev`` (real music) and ``examples`` (a real scan
of examples/library judged against its ANSWERS.json). ``tagger eval MODEL realdev|examples``
is a thin layer over these.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from tagger.model.registry import load_model_for_scanning
from tagger.realdev.calibrate import pr_curve
from tagger.realdev.examples import EXAMPLES_DIR, reports_from_segments, score_reports
from tagger.realdev.report import summary
from tagger.realdev.scores import cached_scores, score_items
from tagger.real_recordings import REALDEV_SOURCES
from tagger.realdev.sets import realdev_items
from tagger.pipeline.segments import SegmenterConfig

BENCHMARKS = ("realdev", "examples")


def run_realdev(model: str | None, *, device: str | torch.device = "cpu",
                cache_dir: Path | None = None, curve: bool = True,
                warn: Callable[[str], None] = print) -> dict:
    """Every realdev figure of ``model`` at its card's decision rule, plus the
    cross-validated precision/recall curve of a re-fitted rule (``curve``)."""
    items = realdev_items()
    net, card = load_model_for_scanning(model, device=device)
    ws = cached_scores(card.id, items, cache_dir,
                       compute=lambda: score_items(net, card, items, warn=warn))
    config = SegmenterConfig.from_card(card)
    out = summary(items, ws, config)
    out["reserved_sources"] = list(REALDEV_SOURCES)
    if curve:
        out["cross_validated_pr_curve"] = pr_curve(ws, items, config)
    return out


def run_examples(model: str | None, *, folder: Path = EXAMPLES_DIR, device: str = "cpu",
                 workers: int | None = None) -> dict:
    """Scan the example library into a throw-away store, then judge what the scan reports."""
    from tagger.pipeline.run import ScanOptions, scan
    from tagger.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "examples.db") as store:
            report = scan([str(folder)], store=store,
                          options=ScanOptions(model=model, device=device, workers=workers))
            rows = []
            for track in store.iter_tracks(status="ok"):
                rows.append((Path(track["path"]).name, store.segments(track["id"])))
    out = score_reports(reports_from_segments(rows), folder)
    out["model"] = report.model
    out["x_realtime"] = round(report.x_realtime, 1)
    return out
