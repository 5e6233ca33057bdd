"""An ensemble: several networks score every window and their probabilities are averaged.

Measured on real music (MODEL-NOTES, realdev), a weighted mean of networks we already ship
beats each of them: mn04 and YAMNet make different mistakes. Members are ordinary models
(cards in ``models/``) speaking logits for the same classes; one running at half the
ensemble's rate (YAMNet, 16 kHz) gets the window decimated by a fixed low-pass FIR, so the
ensemble still takes one waveform batch like every other model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from tagger.model.architectures import register_architecture
from tagger.model.card import ModelCard
from tagger.model.errors import ModelNotFoundError

if TYPE_CHECKING:
    from tagger.model.architectures import MemberLoader

LOGIT_CLAMP = 30.0
FIR_TAPS = 63


def lowpass_taps(cutoff: float, taps: int = FIR_TAPS) -> np.ndarray:
    """Windowed-sinc (Blackman) low-pass, ``cutoff`` as a fraction of the input Nyquist."""
    n = np.arange(taps) - (taps - 1) / 2
    h = cutoff * np.sinc(cutoff * n) * np.blackman(taps)
    return (h / h.sum()).astype(np.float32)


class Decimate(nn.Module):
    """Integer down-sampling by ``factor`` after a low-pass at 0.9 of the new Nyquist."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        self.register_buffer("taps", torch.from_numpy(lowpass_taps(0.9 / factor))[None, None])

    def forward(self, wave: Tensor) -> Tensor:
        if self.factor == 1:
            return wave
        pad = (self.taps.shape[-1] - 1) // 2
        x = F.pad(wave[:, None, :], (pad, pad))
        return F.conv1d(x, self.taps, stride=self.factor)[:, 0]


class EnsembleNet(nn.Module):
    """Weighted mean of member probabilities; foreground from the member that has a role head.

    ``factors[i]``: the ensemble's sample rate over member ``i``'s (1 or an integer).
    """

    def __init__(self, members: list[nn.Module], weights: list[float], factors: list[int],
                 classes: list[str], role_member: int | None = None):
        super().__init__()
        if not members or len(members) != len(weights) or len(weights) != len(factors):
            raise ValueError("an ensemble needs members with one weight and rate factor each")
        total = float(sum(weights))
        if total <= 0 or any(w < 0 for w in weights):
            raise ValueError("ensemble weights must be non-negative and not all zero")
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor([w / total for w in weights]))
        self.resample = nn.ModuleList(Decimate(f) for f in factors)
        self.classes = list(classes)
        self.role_member = role_member

    def forward(self, wave: Tensor) -> tuple[Tensor, Tensor | None]:
        probs = None
        role = None
        for i, (member, resample) in enumerate(zip(self.members, self.resample)):
            presence, fg = member(resample(wave))
            p = torch.sigmoid(presence.float()) * self.weights[i]
            probs = p if probs is None else probs + p
            if i == self.role_member:
                role = fg
        assert probs is not None
        probs = probs.clamp(1e-12, 1 - 1e-7)
        logits = (torch.log(probs) - torch.log1p(-probs)).clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
        return logits, role


def rate_factor(ensemble_rate: int, member_rate: int, name: str) -> int:
    """The integer decimation from the ensemble's rate to a member's, or a clear error."""
    factor = ensemble_rate / member_rate
    if factor < 1 or not math.isclose(factor, round(factor)):
        raise ValueError(f"ensemble member {name!r} runs at {member_rate} Hz: needs an integer "
                         f"fraction of the ensemble's {ensemble_rate} Hz")
    return int(round(factor))


@register_architecture("ensemble", composite=True)
def build_ensemble(card: ModelCard, load_member: MemberLoader) -> EnsembleNet:
    """Load every member the card names (``architecture.members``: ``model``, ``weight``,
    ``role``); ``load_member`` names a missing member (or a cycle) in its one-line error."""
    members, weights, factors, role = [], [], [], None
    for spec in card.architecture.get("members") or []:
        name = spec["model"]
        net, member = load_member(name)
        if list(member.classes) != list(card.classes):
            raise ModelNotFoundError(f"ensemble {card.name!r}: member {name!r} has other classes")
        if spec.get("role"):
            role = len(members)
        members.append(net)
        weights.append(float(spec.get("weight", 1.0)))
        factors.append(rate_factor(card.sample_rate, member.sample_rate, name))
    if not members:
        raise ModelNotFoundError(f"ensemble {card.name!r} names no members")
    return EnsembleNet(members, weights, factors, list(card.classes), role)
