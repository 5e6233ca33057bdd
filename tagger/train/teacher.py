"""The frozen teacher a student is distilled from, and the rate training audio is made at.

mn04 + the AudioSet class map (``teacher = "audioset"``) or any installed model; a distillation
term (:func:`tagger.train.losses.distillation_loss`) pulls the student's class probabilities
towards it, so classes with thin data do not collapse.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from tagger.model.card import FrontendConfig, ModelCard
from tagger.model.frontend import LogMel
from tagger.model.mobilenet import MobileNetV3Audio
from tagger.model.network import AUDIOSET_CLASSES, AUDIOSET_MAP, AudioSetMapHead, TaggerNet
from tagger.train.config import ConfigError, TrainConfig
from tagger.train.student import MN04_WIDTH, load_pretrained

TEACHER_SAMPLE_RATE = 32000


def resample(wave: Tensor, rate_in: int, rate_out: int) -> Tensor:
    """Band-limited resampling of a [B, T] batch by FFT zero-padding/truncation.

    Only for feeding the teacher when the student runs at another rate; exact for the clip
    treated as periodic, which is fine for whole training clips.
    """
    if rate_in == rate_out:
        return wave
    n_in = wave.shape[-1]
    n_out = int(round(n_in * rate_out / rate_in))
    spec = torch.fft.rfft(wave.float(), dim=-1)
    bins = n_out // 2 + 1
    if bins <= spec.shape[-1]:
        spec = spec[..., :bins]
    else:
        spec = F.pad(spec, (0, bins - spec.shape[-1]))
    return torch.fft.irfft(spec, n=n_out, dim=-1) * (n_out / n_in)


class Teacher(nn.Module):
    """A frozen model whose class probabilities the student is pulled towards.

    Wraps either mn04 + the AudioSet class map or an installed model, takes the training batch
    at ``input_rate`` (``data_rate(config)``, so a 32 kHz teacher hears full-band audio while a
    16 kHz student gets a downsampled copy) and returns logits in the student's class order;
    ``known`` marks the classes the teacher has (the others are left out of the loss).
    """

    def __init__(self, net: TaggerNet, sample_rate: int, classes: list[str], input_rate: int):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.sample_rate = sample_rate
        self.input_rate = input_rate
        teacher_classes = list(net.classes)
        self.register_buffer("index", torch.tensor(
            [teacher_classes.index(c) if c in teacher_classes else 0 for c in classes]))
        self.register_buffer("known", torch.tensor([c in teacher_classes for c in classes]))
        if not bool(self.known.any()):
            raise ConfigError("the teacher knows none of the classes being trained")

    def train(self, mode: bool = True) -> "Teacher":
        return super().train(False)  # always frozen, BatchNorm included

    @torch.no_grad()
    def forward(self, wave: Tensor) -> Tensor:
        wave = resample(wave, self.input_rate, self.sample_rate)
        presence, _ = self.net(wave)
        return presence.float()[:, self.index]


def teacher_rate(config: TrainConfig) -> int | None:
    """The teacher's sample rate (``None`` without distillation), read from its card."""
    if config.distill_weight <= 0:
        return None
    if config.teacher == "audioset":
        return TEACHER_SAMPLE_RATE
    from tagger.model.registry import find_card

    return ModelCard.load(find_card(config.teacher)).sample_rate


def data_rate(config: TrainConfig) -> int:
    """The rate training audio is made at: the higher of the student's and the teacher's."""
    return max(config.sample_rate, teacher_rate(config) or 0)


def build_teacher(config: TrainConfig) -> Teacher | None:
    """The frozen teacher the config asks for, or ``None`` when distillation is off."""
    if config.distill_weight <= 0:
        return None
    if config.teacher == "audioset":
        backbone = MobileNetV3Audio(MN04_WIDTH, AUDIOSET_CLASSES)
        backbone.load_state_dict(load_pretrained(config.pretrained), strict=True)

        mapped = [c for c in config.classes if AUDIOSET_MAP.get(c)]
        head = AudioSetMapHead(mapped, AUDIOSET_MAP, config.combine)
        net = TaggerNet(LogMel(FrontendConfig(), TEACHER_SAMPLE_RATE), backbone, head, mapped)
        return Teacher(net, TEACHER_SAMPLE_RATE, config.classes, data_rate(config))
    from tagger.model.registry import load_model

    net, card = load_model(config.teacher)
    return Teacher(net, card.sample_rate, config.classes, data_rate(config))
