"""Scoring clips with a model and the metrics the model card reports.

Pure numpy metrics (no scikit-learn dependency) plus one helper that scores a clip the way the
scanner does (fixed windows, zero-padded, track score = max over windows), so validation
figures describe what a scan will actually do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tagger.model.card import ModelCard


def window_clip(wave: np.ndarray, *, window: int, hop: int) -> np.ndarray:
    """Cut a mono clip into [k, window] windows; the last (or only) one is zero-padded."""
    n = len(wave)
    starts = list(range(0, max(n - window, 0) + 1, hop))
    if starts[-1] + window < n:
        starts.append(starts[-1] + hop)
    out = np.zeros((len(starts), window), dtype=np.float32)
    for row, start in enumerate(starts):
        piece = wave[start : start + window]
        out[row, : len(piece)] = piece
    return out


@torch.inference_mode()
def score_clips(model: torch.nn.Module, card: ModelCard, clips: Sequence[np.ndarray], *,
                batch_size: int = 16) -> np.ndarray:
    """Clip-level presence logits [N, C]: max over the card's windows, as a scan would score."""
    window = int(round(card.window_s * card.sample_rate))
    hop = int(round(card.hop_s * card.sample_rate))
    pieces: list[np.ndarray] = []
    owner: list[int] = []
    for i, clip in enumerate(clips):
        w = window_clip(np.asarray(clip, dtype=np.float32), window=window, hop=hop)
        pieces.extend(w)
        owner.extend([i] * len(w))
    logits = []
    for start in range(0, len(pieces), batch_size):
        batch = torch.from_numpy(np.stack(pieces[start : start + batch_size]))
        logits.append(model(batch)[0].float().numpy())
    per_window = np.concatenate(logits) if logits else np.zeros((0, len(card.classes)))
    out = np.full((len(clips), len(card.classes)), -np.inf, dtype=np.float32)
    np.maximum.at(out, np.asarray(owner, dtype=np.int64), per_window)
    return out


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (mean precision at each positive); NaN if none."""
    labels = np.asarray(labels, dtype=bool)
    if not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    labels = np.asarray(labels, dtype=bool)
    pos, neg = np.asarray(scores)[labels], np.asarray(scores)[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv), dtype=np.float64)
    ranks[order] = np.arange(1, len(allv) + 1)
    for value in np.unique(allv):  # average ranks over ties
        tie = allv == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def precision_recall(labels: np.ndarray, scores: np.ndarray, threshold: float
                     ) -> tuple[float, float, float]:
    """(precision, recall, F1) of ``scores >= threshold``; precision is 1.0 with no predictions."""
    labels = np.asarray(labels, dtype=bool)
    pred = np.asarray(scores) >= threshold
    tp = float((pred & labels).sum())
    precision = tp / pred.sum() if pred.any() else 1.0
    recall = tp / labels.sum() if labels.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def best_f1_threshold(labels: np.ndarray, probs: np.ndarray, *, floor: float = 0.05,
                      ceiling: float = 0.95) -> float:
    """Probability threshold maximising F1, midway between neighbouring scores, clipped.

    The clip keeps a threshold fitted on a few clips from landing at an extreme where one
    unusual recording would flip it.
    """
    labels = np.asarray(labels, dtype=bool)
    probs = np.asarray(probs, dtype=np.float64)
    if not labels.any():
        return ceiling
    values = np.unique(probs)
    cuts = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2])
    best, best_f1 = 0.5, -1.0
    for cut in cuts:
        f1 = precision_recall(labels, probs, cut)[2]
        if f1 > best_f1:
            best, best_f1 = float(cut), f1
    return float(np.clip(best, floor, ceiling))


def top1_accuracy(truth: Sequence[int], logits: np.ndarray, allowed: Sequence[int] | None = None
                  ) -> float:
    """Share of clips whose highest-scoring class (among ``allowed``) is the true one."""
    cols = np.arange(logits.shape[1]) if allowed is None else np.asarray(allowed)
    pred = cols[np.argmax(logits[:, cols], axis=1)]
    return float(np.mean(pred == np.asarray(truth))) if len(truth) else float("nan")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
