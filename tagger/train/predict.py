"""Score labelled clips the way a scan scores tracks, and turn the scores into figures.

A clip is cut into the card's windows (``tagger.pipeline.chunking.frame``: same windows, same
padding as the scanner) and its score is the max over windows, so validation figures describe
what a scan of that clip would report. Used by the trainer's periodic evaluation, ``tagger eval`` and the
sweep, so all three measure the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from tagger.pipeline.chunking import frame
from tagger.model.card import ModelCard
from tagger.train.example import Example
from tagger.train.metrics import EvalReport, evaluate_probabilities


@dataclass
class Predictions:
    """Clip-level logits and the labels they are judged against."""

    presence: np.ndarray  # logits [N, C]
    foreground: np.ndarray | None  # logits [N, C]
    labels: np.ndarray  # [N, C]
    fg_labels: np.ndarray  # [N, C]
    mask: np.ndarray  # [N, C]

    @property
    def probs(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.presence.astype(np.float64)))

    def loss(self) -> float:
        """Masked presence BCE on clip logits: the validation loss plotted beside training's."""
        if not len(self.labels):
            return float("nan")
        bce = F.binary_cross_entropy_with_logits(torch.from_numpy(self.presence).double(),
                                                 torch.from_numpy(self.labels).double(),
                                                 reduction="none").numpy()
        return float((bce * self.mask).sum() / max(self.mask.sum(), 1.0))

    @staticmethod
    def concat(parts: Sequence["Predictions"]) -> "Predictions":
        fg = None if any(p.foreground is None for p in parts) else np.concatenate(
            [p.foreground for p in parts])  # type: ignore[misc]
        return Predictions(np.concatenate([p.presence for p in parts]), fg,
                           np.concatenate([p.labels for p in parts]),
                           np.concatenate([p.fg_labels for p in parts]),
                           np.concatenate([p.mask for p in parts]))


def autocast_for(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); plain fp32 on CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def clip_logits(net: torch.nn.Module, clips: Sequence[np.ndarray], card: ModelCard, *,
                device: torch.device | str = "cpu", batch_size: int = 32, amp: bool = True
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Clip-level (max over the card's windows) presence and foreground logits [N, C] of raw
    mono clips; foreground is None for a model without a role head."""
    device = torch.device(device)
    window = int(round(card.window_s * card.sample_rate))
    hop = int(round(card.hop_s * card.sample_rate))
    n_cls = len(card.classes)
    was_training = net.training
    net.eval()
    pres = np.full((len(clips), n_cls), -np.inf, dtype=np.float32)
    fg = np.full((len(clips), n_cls), -np.inf, dtype=np.float32)
    has_fg = True
    pending: list[np.ndarray] = []
    owners: list[int] = []

    def flush() -> None:
        nonlocal has_fg
        batch = torch.from_numpy(np.stack(pending)).to(device)
        with autocast_for(device, amp):
            p, f = net(batch)
        idx = np.asarray(owners)
        np.maximum.at(pres, idx, p.float().cpu().numpy())
        if f is None:
            has_fg = False
        else:
            np.maximum.at(fg, idx, f.float().cpu().numpy())
        pending.clear()
        owners.clear()

    try:
        for i, clip in enumerate(clips):
            for w in frame(np.asarray(clip, dtype=np.float32), window=window, hop=hop):
                pending.append(w)
                owners.append(i)
                if len(pending) >= batch_size:
                    flush()
        if pending:
            flush()
    finally:
        net.train(was_training)
    return pres, fg if has_fg else None


def predict(net: torch.nn.Module, examples: Sequence[Example], card: ModelCard, *,
            device: torch.device | str = "cpu", batch_size: int = 32, amp: bool = True
            ) -> Predictions:
    """Clip-level (max over windows) presence and foreground logits for ``examples``."""
    pres, fg = clip_logits(net, [ex.audio for ex in examples], card, device=device,
                           batch_size=batch_size, amp=amp)
    n_cls = len(card.classes)

    def stack(attr: str) -> np.ndarray:
        rows = [np.asarray(getattr(e, attr), dtype=np.float32) for e in examples]
        return np.stack(rows) if rows else np.zeros((0, n_cls), dtype=np.float32)

    return Predictions(pres, fg, stack("presence"), stack("foreground"), stack("mask"))


def foreground_accuracy(pred: Predictions) -> float:
    """Share of (clip, class) pairs with the class present where the role head gets the role right."""
    if pred.foreground is None:
        return float("nan")
    present = (pred.labels > 0.5) & (pred.mask > 0)
    if not present.any():
        return float("nan")
    guess = pred.foreground > 0.0
    return float(np.mean(guess[present] == (pred.fg_labels[present] > 0.5)))


def report(pred: Predictions, classes: Sequence[str],
           thresholds: Mapping[str, float] | None = None) -> EvalReport:
    """Metrics for predictions, with the validation loss filled in."""
    out = evaluate_probabilities(pred.probs, pred.labels, pred.mask, classes, thresholds)
    out.loss = pred.loss()
    return out


def predict_sets(net: torch.nn.Module, eval_sets: Mapping[str, Sequence[Example]],
                 card: ModelCard, *, device: torch.device | str = "cpu", batch_size: int = 32,
                 amp: bool = True) -> dict[str, Predictions]:
    """Predictions per named evaluation set (sets without clips are left out)."""
    return {name: predict(net, clips, card, device=device, batch_size=batch_size, amp=amp)
            for name, clips in eval_sets.items() if len(clips)}
