"""YAMNet as a tagger model: its 521 AudioSet outputs mapped to our classes, per 5-s window.

The network is ``tagger.model.yamnet.YamNet`` (our port, weights converted once from
``../shared/pretrained/yamnet.tflite`` by ``models/build_yamnet_model.py``, so nothing outside
``models/`` is needed at run time). A window's class logit is the largest over its 0.96-s
patches (``patch_pool: max``) or the logit of their mean probability (``mean``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tagger.model.architectures import register_architecture
from tagger.model.card import ModelCard
from tagger.model.network import AudioSetMapHead, map_from_json
from tagger.model.yamnet import N_CLASSES, SAMPLE_RATE, YamNet


class YamnetTagger(nn.Module):
    """16-kHz waveform [B, T] -> (class logits [B, C], None): no role head."""

    def __init__(self, head: AudioSetMapHead, classes: list[str], patch_pool: str = "max"):
        super().__init__()
        if patch_pool not in ("max", "mean"):
            raise ValueError(f"patch_pool must be 'max' or 'mean', not {patch_pool!r}")
        self.yamnet = YamNet()
        self.head = head
        self.classes = list(classes)
        self.patch_pool = patch_pool

    def audioset_logits(self, wave: Tensor) -> Tensor:
        """[B, P, 521] YAMNet logits per patch (for distillation targets)."""
        return self.yamnet(wave)

    def forward(self, wave: Tensor) -> tuple[Tensor, None]:
        logits = self.yamnet(wave)
        b, p, _ = logits.shape
        mapped = self.head(logits.reshape(b * p, -1)).reshape(b, p, -1)
        if self.patch_pool == "max":
            return mapped.amax(dim=1), None
        prob = torch.sigmoid(mapped).mean(dim=1).clamp(1e-7, 1 - 1e-7)
        return torch.log(prob) - torch.log1p(-prob), None


@register_architecture("yamnet")
def build_yamnet_tagger(card: ModelCard) -> YamnetTagger:
    """The (unloaded) YAMNet tagger a card describes."""
    arch = card.architecture
    if card.sample_rate != SAMPLE_RATE:
        raise ValueError(f"card {card.name!r}: YAMNet runs at {SAMPLE_RATE} Hz, "
                         f"not {card.sample_rate}")
    head_cfg = arch.get("head") or {}
    head = AudioSetMapHead(list(card.classes), map_from_json(head_cfg["map"]),
                           head_cfg.get("combine", "max"), N_CLASSES)
    return YamnetTagger(head, list(card.classes), arch.get("patch_pool", "max"))
