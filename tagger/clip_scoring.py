"""Scoring raw clips with a model, for the scripts that measure one outside the trainer
(``benchmarks/eval_real.py``, and through it ``models/build_audioset_model.py``).

Only what those scripts need beyond the trainer's own code lives here: the metrics (AP and
ROC-AUC with ties as scikit-learn counts them, masks, F1 thresholds) are
``tagger.train.metrics`` and the windowing is ``tagger.train.predict.clip_logits``, so a figure
in a model card means the same whichever of them produced it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tagger.model.card import ModelCard
from tagger.train.predict import clip_logits


def score_clips(model: torch.nn.Module, card: ModelCard, clips: Sequence[np.ndarray], *,
                batch_size: int = 16) -> np.ndarray:
    """Clip-level presence logits [N, C]: max over the card's windows, as a scan would score.

    Runs on whatever device the model is on, in fp32 (no autocast), so a benchmark's figures do
    not depend on the machine it ran on.
    """
    device = next(model.parameters()).device
    return clip_logits(model, clips, card, device=device, batch_size=batch_size, amp=False)[0]


def top1_accuracy(truth: Sequence[int], logits: np.ndarray, allowed: Sequence[int] | None = None
                  ) -> float:
    """Share of clips whose highest-scoring class (among ``allowed``) is the true one.

    ``allowed`` restricts the race to the classes a test set contains, which answers "which of
    these instruments is it" rather than "which of all of ours".
    """
    cols = np.arange(logits.shape[1]) if allowed is None else np.asarray(allowed)
    pred = cols[np.argmax(logits[:, cols], axis=1)]
    return float(np.mean(pred == np.asarray(truth))) if len(truth) else float("nan")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Probabilities from logits, in float64 (the metrics compare them to thresholds)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
