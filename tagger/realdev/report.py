"""Figures from window scores: what a user of a scan would see, and the ranking behind it.

- ``ap``: per-class average precision of the track score (max over windows), masked where a
  label is unknown; a class with no positives is reported as such, never as NaN.
- ``top1``: single-instrument items, argmax over all classes.
- ``presence``: precision/recall of the classes the scanner *reports* (gets at least one
  segment after ``tagger.pipeline.segments.segment_track`` with the card's decision rule): what
  ``query --has``, the export's coverage and the written tags say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.realdev.scores import WindowScores
from tagger.realdev.sets import Item
from tagger.pipeline.segments import SegmenterConfig, segment_track
from tagger.train.metrics import average_precision

NO_POSITIVES = "no positives"


def label_matrix(items: Sequence[Item], classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, known) as boolean [N, C]."""
    labels = np.array([[c in i.present for c in classes] for i in items], dtype=bool)
    known = np.array([[c not in i.unknown for c in classes] for i in items], dtype=bool)
    return labels, known


def track_scores(ws: WindowScores) -> np.ndarray:
    """[N, C]: each item's largest window probability (the ranking score)."""
    return np.stack([p.max(axis=0) for p in ws.presence])


def reported(ws: WindowScores, config: SegmenterConfig) -> np.ndarray:
    """[N, C] boolean: the classes the scanner's segmenter reports for each item."""
    out = np.zeros((len(ws.presence), len(ws.classes)), dtype=bool)
    index = {c: j for j, c in enumerate(ws.classes)}
    for i, (pres, fg, dur) in enumerate(zip(ws.presence, ws.foreground, ws.durations)):
        segments, _ = segment_track(pres, fg, duration_s=max(dur, 1e-3), config=config)
        for seg in segments:
            out[i, index[seg.instrument]] = True
    return out


def ap_per_class(scores: np.ndarray, labels: np.ndarray, known: np.ndarray,
                 classes: Sequence[str]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for j, name in enumerate(classes):
        rows = known[:, j]
        if not labels[rows, j].any():
            out[name] = NO_POSITIVES
            continue
        out[name] = round(float(average_precision(labels[rows, j], scores[rows, j])), 4)
    return out


def macro(values: dict[str, float | str]) -> float:
    nums = [v for v in values.values() if isinstance(v, float)]
    return round(float(np.mean(nums)), 4) if nums else float("nan")


def top1(items: Sequence[Item], scores: np.ndarray, classes: Sequence[str], *,
         solo_only: bool = False) -> tuple[float, int]:
    """Top-1 accuracy over single-instrument items (``solo_only``: not isolated notes)."""
    rows = [(i, classes.index(it.single)) for i, it in enumerate(items)
            if it.single is not None and it.single in classes
            and (not solo_only or it.kind != "note")]
    if not rows:
        return float("nan"), 0
    hits = sum(int(np.argmax(scores[i]) == j) for i, j in rows)
    return round(hits / len(rows), 4), len(rows)


@dataclass
class PresenceFigures:
    precision: float
    recall: float
    tp: int
    fp: int
    fn: int
    per_class: dict[str, dict[str, float | int | str]]

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "tp": self.tp,
                "fp": self.fp, "fn": self.fn, "per_class": self.per_class}


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else float("nan")


def presence(pred: np.ndarray, labels: np.ndarray, known: np.ndarray,
             classes: Sequence[str]) -> PresenceFigures:
    """Micro precision/recall over (item, class) decisions with a known label, and per class."""
    tp = (pred & labels & known)
    fp = (pred & ~labels & known)
    fn = (~pred & labels & known)
    per: dict[str, dict[str, float | int | str]] = {}
    for j, name in enumerate(classes):
        t, f, m = int(tp[:, j].sum()), int(fp[:, j].sum()), int(fn[:, j].sum())
        row: dict[str, float | int | str] = {"tp": t, "fp": f, "fn": m,
                                             "precision": _ratio(t, t + f)}
        row["recall"] = _ratio(t, t + m) if t + m else NO_POSITIVES
        per[name] = row
    T, F, M = int(tp.sum()), int(fp.sum()), int(fn.sum())
    return PresenceFigures(_ratio(T, T + F), _ratio(T, T + M), T, F, M, per)


def summary(items: Sequence[Item], ws: WindowScores, config: SegmenterConfig) -> dict:
    """Every realdev figure of one scorer at one decision rule."""
    classes = ws.classes
    labels, known = label_matrix(items, classes)
    scores = track_scores(ws)
    aps = ap_per_class(scores, labels, known, classes)
    mix = np.array([i.kind == "mixture" for i in items])
    mix_ap = ap_per_class(scores[mix], labels[mix], known[mix], classes)
    t1, n1 = top1(items, scores, classes)
    solo, ns = top1(items, scores, classes, solo_only=True)
    pres = presence(reported(ws, config), labels, known, classes)
    return {"model": ws.model, "items": len(items), "mAP": macro(aps), "ap": aps,
            "mixtures_mAP": macro(mix_ap), "top1_single": t1, "single_items": n1,
            "top1_solo": solo, "solo_items": ns, "presence": pres.to_dict()}
