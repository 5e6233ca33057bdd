"""Fit the decision rule on real music, and measure it where it was not fitted.

Per class, the window threshold is the lowest that keeps the class's precision at or above a
target on the calibration items (the clips' track scores); with too few positives to tell,
a threshold shared by all such classes is used. Figures are cross-validated by source: the
thresholds used on fold ``k`` are fitted on the other folds only (``cross_validated``), and the
shipped thresholds are fitted on all of realdev.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from tagger.realdev.report import label_matrix, presence, reported
from tagger.realdev.scores import WindowScores
from tagger.realdev.sets import Item
from tagger.pipeline.segments import SegmenterConfig, smooth, track_score

MIN_POSITIVES = 3
FLOOR, CEILING = 0.02, 0.98


def _smoothed_scores(ws: WindowScores, width: int) -> np.ndarray:
    """[N, C]: each item's track score as the segmenter computes it."""
    return np.stack([track_score(smooth(p, width)) for p in ws.presence])


def _threshold_for(scores: np.ndarray, labels: np.ndarray, target: float) -> float | None:
    """Lowest threshold with precision >= ``target`` (None when no positive reaches it)."""
    order = np.argsort(-scores)
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    prec = tp / np.arange(1, len(y) + 1)
    ok = np.flatnonzero((prec >= target) & y)
    if not len(ok):
        return None
    i = ok[-1]  # the deepest cut that still meets the target
    below = s[i + 1] if i + 1 < len(s) else 0.0
    return float(np.clip((s[i] + below) / 2 if below < s[i] else s[i], FLOOR, CEILING))


def fit_thresholds(ws: WindowScores, items: Sequence[Item], rows: np.ndarray, *,
                   target: float, smooth_chunks: int = 3) -> list[float]:
    """Per-class window thresholds fitted on ``rows`` of realdev."""
    labels, known = label_matrix(items, ws.classes)
    scores = _smoothed_scores(ws, smooth_chunks)
    shared_s, shared_y = [], []
    fitted: list[float | None] = []
    for j in range(len(ws.classes)):
        r = rows & known[:, j]
        if labels[r, j].sum() >= MIN_POSITIVES:
            fitted.append(_threshold_for(scores[r, j], labels[r, j], target))
        else:
            fitted.append(None)
            shared_s.append(scores[r, j])
            shared_y.append(labels[r, j])
    shared = None
    if shared_s:
        shared = _threshold_for(np.concatenate(shared_s), np.concatenate(shared_y), target)
    pooled = [t for t in fitted if t is not None]
    fallback = shared if shared is not None else (float(np.median(pooled)) if pooled else 0.5)
    return [round(t if t is not None else fallback, 4) for t in fitted]


def with_thresholds(config: SegmenterConfig, thresholds: Sequence[float]) -> SegmenterConfig:
    return replace(config, thresholds=list(thresholds), track_thresholds=None)


def cross_validated(ws: WindowScores, items: Sequence[Item], config: SegmenterConfig, *,
                    target: float) -> np.ndarray:
    """[N, C] reported classes, each fold decided with thresholds fitted on the others."""
    folds = np.array([i.fold for i in items])
    out = np.zeros((len(items), len(ws.classes)), dtype=bool)
    for fold in sorted(set(folds.tolist())):
        thresholds = fit_thresholds(ws, items, folds != fold, target=target,
                                    smooth_chunks=config.smooth_chunks)
        sub = folds == fold
        part = WindowScores(ws.model, ws.classes,
                            [p for p, s in zip(ws.presence, sub) if s],
                            [f for f, s in zip(ws.foreground, sub) if s],
                            [d for d, s in zip(ws.durations, sub) if s])
        out[sub] = reported(part, with_thresholds(config, thresholds))
    return out


def pr_curve(ws: WindowScores, items: Sequence[Item], config: SegmenterConfig,
             targets: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)) -> list[dict]:
    """Cross-validated presence precision/recall for each precision target."""
    labels, known = label_matrix(items, ws.classes)
    curve = []
    for target in targets:
        fig = presence(cross_validated(ws, items, config, target=target), labels, known,
                       ws.classes)
        curve.append({"target": target, "precision": fig.precision, "recall": fig.recall})
    return curve


__all__ = ["fit_thresholds", "cross_validated", "pr_curve", "with_thresholds"]
