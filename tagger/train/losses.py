"""What training minimises: presence BCE over labelled classes, the foreground term on the
classes present, and distillation towards a frozen teacher; SpecAugment on the student's input."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from tagger.train.config import TrainConfig
from tagger.train.predict import autocast_for
from tagger.train.teacher import Teacher, resample


def spec_augment(spec: Tensor, *, freq_masks: int = 2, time_masks: int = 2) -> Tensor:
    """Zero random mel bands and time spans per clip (SpecAugment), up to 1/8 and 1/10 wide."""
    b, _, n_mels, n_frames = spec.shape
    keep = torch.ones(b, 1, n_mels, n_frames, device=spec.device, dtype=torch.bool)
    for size, axis, count in ((n_mels, 2, freq_masks), (n_frames, 3, time_masks)):
        limit = max(1, size // (8 if axis == 2 else 10))
        pos = torch.arange(size, device=spec.device)
        for _ in range(count):
            width = torch.randint(0, limit + 1, (b,)).to(spec.device)
            start = (torch.rand(b).to(spec.device) * (size - width + 1)).long()
            hit = (pos[None] >= start[:, None]) & (pos[None] < (start + width)[:, None])
            shape = (b, 1, size, 1) if axis == 2 else (b, 1, 1, size)
            keep &= ~hit.view(shape)
    return spec * keep


def distillation_loss(student: Tensor, teacher: Tensor, known: Tensor) -> Tensor:
    """BCE of the student's logits against the teacher's probabilities, over classes it knows."""
    target = torch.sigmoid(teacher)
    loss = F.binary_cross_entropy_with_logits(student.float(), target, reduction="none")
    weight = known.to(loss.dtype).expand_as(loss)
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


def compute_loss(net: nn.Module, teacher: Teacher | None, batch: Sequence[Tensor],
                 config: TrainConfig, device: torch.device, rate: int | None = None
                 ) -> tuple[Tensor, dict[str, Tensor]]:
    """Total loss for one batch and its parts (detached tensors: read them only when logging,
    since reading a CUDA value waits for the GPU). ``rate`` is the batch's sample rate when it
    differs from the student's (a teacher that needs a higher one)."""
    wave, presence, foreground, mask = (t.to(device, non_blocking=True) for t in batch)
    student_wave = resample(wave, rate or config.sample_rate, config.sample_rate)
    with autocast_for(device, config.amp):
        spec = net.spectrogram(student_wave)
        if config.spec_augment:
            spec = spec_augment(spec)
        logits, fg_logits = net.forward_spec(spec)
        target = teacher(wave) if teacher is not None else None
    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, presence, reduction="none")
    loss_p = (bce * mask).sum() / mask.sum().clamp_min(1.0)
    parts = {"presence": loss_p.detach()}
    total = loss_p
    if fg_logits is not None and config.foreground_weight > 0:
        weight = mask * presence
        fg_bce = F.binary_cross_entropy_with_logits(fg_logits.float(), foreground, reduction="none")
        loss_f = (fg_bce * weight).sum() / weight.sum().clamp_min(1.0)
        total = total + config.foreground_weight * loss_f
        parts["foreground"] = loss_f.detach()
    if teacher is not None and target is not None:
        loss_d = distillation_loss(logits, target, teacher.known)
        total = total + config.distill_weight * loss_d
        parts["distill"] = loss_d.detach()
    parts["loss"] = total.detach()
    return total, parts
