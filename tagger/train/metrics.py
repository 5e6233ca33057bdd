"""Multi-label metrics with label masks, written in numpy (no scikit-learn dependency).

Every metric takes ``mask``: a class whose label is unknown for a clip (``mask == 0``) is left
out of that class's figures rather than counted as a negative, matching the training loss.
``average_precision`` and ``roc_auc`` treat tied scores as scikit-learn does (one operating
point per distinct score), so figures are comparable with published ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

THRESHOLD_FLOOR, THRESHOLD_CEILING, DEFAULT_THRESHOLD = 0.05, 0.95, 0.5


def _curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives counted down the distinct scores: (tp, fp, cut values)."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return tp.astype(np.float64), fp.astype(np.float64), s[last]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Sum over distinct thresholds of (recall step) x precision; NaN without positives."""
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        return math.nan
    tp, fp, _ = _curve(y, np.asarray(scores, dtype=np.float64))
    precision = tp / (tp + fp)
    recall_step = np.diff(np.r_[0.0, tp]) / tp[-1]
    return float(np.sum(recall_step * precision))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids over distinct thresholds); NaN if one class is absent."""
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return math.nan
    tp, fp, _ = _curve(y, np.asarray(scores, dtype=np.float64))
    tpr, fpr = np.r_[0.0, tp / tp[-1]], np.r_[0.0, fp / fp[-1]]
    return float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))


def precision_recall_f1(labels: np.ndarray, probs: np.ndarray, threshold: float
                        ) -> tuple[float, float, float]:
    """Figures of ``probs >= threshold``; precision is 1 with no predictions, recall NaN w/o positives."""
    y = np.asarray(labels, dtype=bool)
    pred = np.asarray(probs) >= threshold
    tp = float(np.sum(pred & y))
    precision = tp / pred.sum() if pred.any() else 1.0
    recall = tp / y.sum() if y.any() else math.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def best_f1_threshold(labels: np.ndarray, probs: np.ndarray, *, floor: float = THRESHOLD_FLOOR,
                      ceiling: float = THRESHOLD_CEILING) -> float:
    """The probability cut that maximises F1, placed midway to the next lower score, clipped.

    Midway (not at the score itself) so a clip scoring just under a validation positive is not
    decided by float noise; clipped so a handful of validation clips cannot push a threshold to
    an extreme that one unusual recording would flip. Without positives there is nothing to fit:
    the default 0.5 stays.
    """
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probs, dtype=np.float64)
    if not y.any():
        return DEFAULT_THRESHOLD
    tp, fp, cuts = _curve(y, p)
    f1 = 2 * tp / (tp + fp + y.sum())
    best = int(np.argmax(f1))  # first = highest threshold among equals: fewer false alarms
    lower = cuts[best + 1] if best + 1 < len(cuts) else cuts[best] - 1e-3
    return float(np.clip((cuts[best] + lower) / 2, floor, ceiling))


@dataclass
class ClassMetrics:
    """One class's figures on one evaluation set."""

    ap: float
    auc: float
    precision: float
    recall: float
    f1: float
    threshold: float
    positives: int
    negatives: int


@dataclass
class EvalReport:
    """All figures for one set: per class, their means, and single-label figures if any."""

    classes: list[str]
    per_class: dict[str, ClassMetrics]
    mAP: float
    macro_f1: float
    clips: int
    single_label_clips: int = 0
    top1: float = math.nan
    confusion: list[list[int]] = field(default_factory=list)  # [true class][predicted class]
    loss: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes null, so the card stays valid JSON for every reader)."""
        return json_safe(asdict(self))


def json_safe(value: Any) -> Any:
    """NaN -> None, floats rounded to 6 places, numpy scalars, sets and paths made plain,
    recursively: cards and logs are JSON that any reader must accept."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(json_safe(v) for v in value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def single_label_rows(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows with exactly one class known present: where top-1 is meaningful.

    The other classes need not be known: a clip from a class folder (IRMAS's predominant
    instrument, the others unknown) is exactly what top-1 accuracy was made for.
    """
    return ((labels > 0.5) & (mask > 0)).sum(axis=1) == 1


def confusion_matrix(labels: np.ndarray, probs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[true, predicted argmax] counts over the single-label rows."""
    rows = single_label_rows(labels, mask)
    n = labels.shape[1]
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, ((labels * mask)[rows].argmax(axis=1), probs[rows].argmax(axis=1)), 1)
    return out


def evaluate_probabilities(probs: np.ndarray, labels: np.ndarray, mask: np.ndarray | None,
                           classes: Sequence[str], thresholds: Mapping[str, float] | None = None
                           ) -> EvalReport:
    """Figures for ``probs`` [N, C] against 0/1 ``labels`` [N, C]; thresholds default to 0.5.

    With ``thresholds``, top-1 and the confusion matrix pick the class whose score clears its
    own threshold by the widest margin (in logits): classes calibrated differently would
    otherwise let one class win every argmax. Without them, the raw probabilities compete.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    mask = np.ones_like(labels) if mask is None else np.asarray(mask, dtype=np.float64)
    if probs.shape != labels.shape or mask.shape != labels.shape or labels.shape[1] != len(classes):
        raise ValueError(f"shape mismatch: probs {probs.shape}, labels {labels.shape}, "
                         f"mask {mask.shape}, {len(classes)} classes")
    per_class: dict[str, ClassMetrics] = {}
    for c, name in enumerate(classes):
        known = mask[:, c] > 0
        y, p = labels[known, c] > 0.5, probs[known, c]
        thr = float((thresholds or {}).get(name, DEFAULT_THRESHOLD))
        precision, recall, f1 = precision_recall_f1(y, p, thr)
        # Without a known negative every ranking is perfect: AP would read 1.0 and mean nothing.
        per_class[name] = ClassMetrics(
            ap=average_precision(y, p) if (~y).any() else math.nan, auc=roc_auc(y, p),
            precision=precision, recall=recall,
            f1=f1 if y.any() else math.nan, threshold=thr, positives=int(y.sum()),
            negatives=int((~y).sum()))
    rows = single_label_rows(labels, mask)
    if thresholds:  # argmax of the margin over each class's threshold, as the scanner decides
        thr = np.array([float(thresholds.get(c, DEFAULT_THRESHOLD)) for c in classes])
        ranked = _logit(probs) - _logit(thr)[None, :]
    else:
        ranked = probs
    report = EvalReport(
        classes=list(classes), per_class=per_class,
        mAP=_nanmean([m.ap for m in per_class.values()]),
        macro_f1=_nanmean([m.f1 for m in per_class.values()]),
        clips=len(labels), single_label_clips=int(rows.sum()))
    if rows.any():
        truth = (labels * mask)[rows].argmax(axis=1)
        report.top1 = float(np.mean(truth == ranked[rows].argmax(axis=1)))
        report.confusion = confusion_matrix(labels, ranked, mask).tolist()
    return report


def selection_score(report: EvalReport) -> float:
    """What "better" means when keeping a checkpoint or ranking sweep settings: the mAP, or,
    where no class has a known negative (class folders alone leave the others unknown), top-1
    on the single-label clips; NaN if neither can be measured."""
    return report.mAP if not math.isnan(report.mAP) else report.top1


def calibrate_thresholds(probs: np.ndarray, labels: np.ndarray, mask: np.ndarray | None,
                         classes: Sequence[str]) -> dict[str, float]:
    """Per-class F1-maximising thresholds on validation data (0.5 where a class has no positives)."""
    mask = np.ones_like(labels) if mask is None else mask
    out = {}
    for c, name in enumerate(classes):
        known = np.asarray(mask)[:, c] > 0
        out[name] = round(best_f1_threshold(np.asarray(labels)[known, c] > 0.5,
                                            np.asarray(probs)[known, c]), 4)
    return out
