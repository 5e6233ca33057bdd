"""Fit a model's decision thresholds on realdev and write them, with honest figures, into its card.

The thresholds shipped are fitted on all of realdev at a precision target; the figures written
beside them are cross-validated by source (each fold judged with thresholds fitted on the
other), plus the precision/recall curve over targets and the example library at the shipped
thresholds (a set the fit never saw).

    .venv/bin/python benchmarks/calibrate_realdev.py --model tagger-fast [--target 0.9] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tagger.model.card import ModelCard  # noqa: E402
from tagger.model.registry import find_card, load_model_for_scanning  # noqa: E402
from tagger.realdev.calibrate import (cross_validated, fit_thresholds, pr_curve,  # noqa: E402
                                      with_thresholds)
from tagger.realdev.examples import (examples_items, reports_from_segments,  # noqa: E402
                                     score_reports)
from tagger.realdev.report import label_matrix, presence, summary  # noqa: E402
from tagger.realdev.scores import cached_scores, score_items  # noqa: E402
from tagger.realdev.sets import realdev_items  # noqa: E402
from tagger.pipeline.segments import SegmenterConfig, segment_track  # noqa: E402

CACHE = Path(__file__).resolve().parents[1] / "build" / "realdev-scores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--target", type=float, default=0.9, help="precision target per class")
    ap.add_argument("--write", action="store_true", help="write thresholds + figures into the card")
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    card_path = find_card(args.model)
    net, card = load_model_for_scanning(args.model)
    items, ex_items = realdev_items(), examples_items()
    ws = cached_scores(card.id, items, args.cache / "realdev",
                       compute=lambda: score_items(net, card, items))
    ex = cached_scores(card.id, ex_items, args.cache / "examples",
                       compute=lambda: score_items(net, card, ex_items))
    base = SegmenterConfig.from_card(card)
    before = summary(items, ws, base)
    thresholds = fit_thresholds(ws, items, np.ones(len(items), bool), target=args.target,
                                smooth_chunks=base.smooth_chunks)
    config = with_thresholds(base, thresholds)
    labels, known = label_matrix(items, ws.classes)
    held = presence(cross_validated(ws, items, base, target=args.target), labels, known,
                    ws.classes)
    rows = [(it.name, segment_track(p, f, duration_s=d, config=config)[0])
            for it, p, f, d in zip(ex_items, ex.presence, ex.foreground, ex.durations)]
    examples = score_reports(reports_from_segments(rows))
    figures = {
        "protocol": ("realdev: reserved real sources (tagger.real_recordings.REALDEV_SOURCES), "
                     "2 folds by source; thresholds fitted per class at precision target "
                     f"{args.target}; 'presence_cross_validated' = each fold decided with "
                     "thresholds fitted on the other; examples = examples/library vs ANSWERS.json"),
        "realdev_items": len(items), "mAP": before["mAP"], "ap": before["ap"],
        "mixtures_mAP": before["mixtures_mAP"], "top1_single": before["top1_single"],
        "top1_solo": before["top1_solo"],
        "presence_before": {k: before["presence"][k] for k in ("precision", "recall")},
        "presence_cross_validated": held.to_dict(),
        "pr_curve_cross_validated": pr_curve(ws, items, base),
        "examples": {k: examples[k] for k in ("precision", "recall", "right", "wrong",
                                               "missed", "lead_accuracy")},
    }
    print(json.dumps({"thresholds": dict(zip(card.classes, thresholds)), **figures}, indent=1))
    if args.write:
        raw = ModelCard.load(card_path)
        raw.thresholds = dict(zip(raw.classes, thresholds))
        raw.decision = {"smooth_chunks": base.smooth_chunks, "min_evidence_s": 0.0,
                        "precision_target": args.target, "fitted_on": "realdev"}
        raw.validation = {**raw.validation, "realdev": figures}
        raw.save(card_path)
        print(f"wrote thresholds and figures into {card_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
