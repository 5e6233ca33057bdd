"""The tagger network: waveform in, per-class logits out, built from a model card.

``TaggerNet`` owns its log-mel frontend, so the scanner, the trainer and a Ray worker feed it raw
waveforms and get the same answer on CPU and GPU. Every model speaks logits (apply a sigmoid
for probabilities) so thresholds and the segmenter never care which head produced them.

Heads (``card.architecture["head"]["type"]``, registered with
``tagger.model.architectures.register_head``):

- ``audioset_map``: the backbone's 527 AudioSet logits are combined per class over a fixed map
  of AudioSet classes (e.g. Saxophone -> saxophone; Singing, Choir, ... -> voice). The map is a
  buffer, so the whole model is one ``state_dict``.
- ``direct``: the backbone's outputs *are* the classes (a fine-tuned model).

An optional role head (``architecture["role_head"] = true``) adds a linear foreground/background
logit per class on the pooled embedding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from tagger.model.architectures import (UnknownArchitectureError, build_head,
                                        register_architecture, register_head)
from tagger.model.card import ModelCard
from tagger.model.frontend import LogMel
from tagger.model.mobilenet import MobileNetV3Audio, fold_batchnorm

AUDIOSET_CLASSES = 527
LOGIT_CLAMP = 30.0

# Our class -> {AudioSet output index: AudioSet display name}. Names are for people reading the
# card; indices are what the network uses (order of class_labels_indices.csv).
AUDIOSET_MAP: dict[str, dict[int, str]] = {
    "voice": {
        27: "Singing", 28: "Choir", 29: "Yodeling", 30: "Chant", 31: "Mantra",
        32: "Male singing", 33: "Female singing", 34: "Child singing",
        35: "Synthetic singing", 36: "Rapping", 37: "Humming", 254: "Vocal music",
        255: "A capella",
    },
    "piano": {153: "Piano", 154: "Electric piano"},
    "organ": {155: "Organ", 156: "Electronic organ", 157: "Hammond organ"},
    "acoustic_guitar": {143: "Acoustic guitar", 146: "Strum"},
    "electric_guitar": {141: "Electric guitar", 145: "Tapping (guitar technique)"},
    "bass": {142: "Bass guitar", 194: "Double bass"},
    "drums": {
        162: "Drum kit", 163: "Drum machine", 164: "Drum", 165: "Snare drum",
        166: "Rimshot", 167: "Drum roll", 168: "Bass drum", 171: "Cymbal", 172: "Hi-hat",
    },
    "violin": {191: "Violin, fiddle"},
    "cello": {193: "Cello"},
    "trumpet": {187: "Trumpet"},
    "saxophone": {197: "Saxophone"},
    "clarinet": {198: "Clarinet"},
    "flute": {196: "Flute"},
    "synth": {158: "Synthesizer"},
}


def map_to_json(class_map: dict[str, dict[int, str]]) -> dict[str, dict[str, str]]:
    """The map in the card's JSON form (string keys)."""
    return {cls: {str(i): name for i, name in m.items()} for cls, m in class_map.items()}


def map_from_json(data: dict[str, dict[str, str]]) -> dict[str, dict[int, str]]:
    return {cls: {int(i): name for i, name in m.items()} for cls, m in data.items()}


class AudioSetMapHead(nn.Module):
    """AudioSet logits [B, 527] -> class logits [B, C] through a fixed membership matrix.

    ``combine="max"``: the class probability is the largest member probability; as the sigmoid
    is monotone that is simply the largest member logit. ``"noisy_or"``: ``1 - prod(1 - p_i)``,
    computed in log space (``log(1 - p) = -softplus(z)``) and returned as a logit.
    """

    def __init__(self, classes: list[str], class_map: dict[str, dict[int, str]],
                 combine: str = "max", n_inputs: int = AUDIOSET_CLASSES):
        super().__init__()
        if combine not in ("max", "noisy_or"):
            raise ValueError(f"unknown combine {combine!r}; use 'max' or 'noisy_or'")
        missing = [c for c in classes if not class_map.get(c)]
        if missing:
            raise ValueError(f"no AudioSet classes mapped for: {', '.join(missing)}")
        self.combine = combine
        member = torch.zeros(len(classes), n_inputs, dtype=torch.bool)
        for row, cls in enumerate(classes):
            member[row, list(class_map[cls])] = True
        self.register_buffer("member", member)

    def forward(self, as_logits: Tensor) -> Tensor:
        z = as_logits.float()[:, None, :]  # [B, 1, 527]
        if self.combine == "max":
            out = z.masked_fill(~self.member, float("-inf")).amax(dim=-1)
        else:
            total = (nn.functional.softplus(z) * self.member).sum(dim=-1)  # -log(1 - p)
            total = total.clamp_min(1e-12)
            out = total + torch.log(-torch.expm1(-total))  # logit(1 - exp(-total))
        return out.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)


class TaggerNet(nn.Module):
    """LogMel frontend + MobileNetV3 backbone + class head (+ optional role head)."""

    def __init__(self, frontend: LogMel, backbone: MobileNetV3Audio, head: nn.Module,
                 classes: list[str], role_head: nn.Module | None = None):
        super().__init__()
        self.frontend = frontend
        self.backbone = backbone
        self.head = head
        self.role_head = role_head
        self.classes = list(classes)

    def spectrogram(self, wave: Tensor) -> Tensor:
        """[B, T] waveform -> [B, 1, mels, frames]; split out so training can augment it."""
        return self.frontend(wave)

    def forward_spec(self, spec: Tensor) -> tuple[Tensor, Tensor | None]:
        """Like ``forward`` but from a spectrogram."""
        backbone_logits, emb = self.backbone.forward_with_embedding(spec)
        presence = self.head(backbone_logits)
        role = self.role_head(emb) if self.role_head is not None else None
        return presence, role

    def forward(self, wave: Tensor) -> tuple[Tensor, Tensor | None]:
        """(presence logits [B, C], foreground logits [B, C] or None without a role head)."""
        return self.forward_spec(self.frontend(wave))

    def embed(self, wave: Tensor) -> Tensor:
        """Pooled backbone embedding [B, D] for a waveform batch."""
        return self.backbone.embed(self.frontend(wave))


@register_head("audioset_map")
def _audioset_map_head(card: ModelCard, config: dict[str, Any]) -> tuple[nn.Module, int]:
    n_out = int(card.architecture.get("num_outputs", AUDIOSET_CLASSES))
    class_map = map_from_json(config["map"]) if "map" in config else AUDIOSET_MAP
    head = AudioSetMapHead(list(card.classes), class_map, config.get("combine", "max"), n_out)
    return head, n_out


@register_head("direct")
def _direct_head(card: ModelCard, config: dict[str, Any]) -> tuple[nn.Module, int]:
    n_classes = len(card.classes)
    n_out = int(card.architecture.get("num_outputs", n_classes))
    if n_out != n_classes:
        raise ValueError(f"direct head needs num_outputs == {n_classes} classes")
    return nn.Identity(), n_out


@register_architecture("mobilenet_v3_audio")
def build_network(card: ModelCard) -> TaggerNet:
    """Build the (untrained) network a card describes; load its ``state_dict`` afterwards.

    The head is ``architecture.head.type``'s registered builder (``direct`` when absent).
    """
    arch: dict[str, Any] = dict(card.architecture)
    if arch.get("type") != "mobilenet_v3_audio":
        raise UnknownArchitectureError(f"card {card.name!r} is not a mobilenet_v3_audio network"
                                       f" but {arch.get('type')!r}")
    head, n_out = build_head(card, dict(arch.get("head") or {"type": "direct"}))
    backbone = MobileNetV3Audio(width_mult=float(arch.get("width_mult", 0.4)), num_classes=n_out)
    role_head = nn.Linear(backbone.embed_dim, len(card.classes)) if arch.get("role_head") else None
    frontend = LogMel(card.frontend, card.sample_rate)
    return TaggerNet(frontend, backbone, head, list(card.classes), role_head)


class ChannelsLast(nn.Module):
    """Puts a spectrogram batch in channels-last layout, which oneDNN's convs run faster."""

    def forward(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last)


def optimize_for_inference(net: TaggerNet, *, channels_last: bool = True,
                           compile: bool = False) -> TaggerNet:
    """A copy for scanning: BatchNorm folded into the convs, channels-last, optionally compiled.

    Measured on a 2-core CPU (benchmarks/bench_model.py): folding and channels-last together
    about 1.5x, ``torch.compile`` of everything after the frontend (the STFT's complex ops stay
    eager) a little more, but it costs seconds to a minute on the first call and again on every
    new batch shape, so it pays off only for long scans with fixed batch shapes. The copy's
    ``state_dict`` no longer matches the card's layout: never train or save it.
    """
    backbone = fold_batchnorm(net.backbone)  # a copy: the activations below may change
    for module in backbone.modules():
        if isinstance(module, (nn.ReLU, nn.Hardswish)):
            # In place: no new activation map per layer. Measured 1300x -> 1490x real time for
            # the CNN at batch 8 on one CPU thread, identical outputs (inference only).
            module.inplace = True
    if channels_last:
        backbone.features = nn.Sequential(ChannelsLast(), *backbone.features)
        backbone = backbone.to(memory_format=torch.channels_last)
    fast = TaggerNet(net.frontend, backbone, net.head, net.classes,
                     net.role_head).eval().requires_grad_(False)
    fast.to(next(net.parameters()).device)
    if compile:
        compiled = torch.compile(fast.forward_spec, dynamic=False)
        fast.forward_spec = compiled  # type: ignore[method-assign]
    return fast
