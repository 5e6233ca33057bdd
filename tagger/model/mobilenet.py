"""A MobileNetV3-style CNN over log-mel spectrograms (EfficientAT's "mn" family layout).

Written from "Searching for MobileNetV3" (Howard et al., 2019) and "Efficient Large-Scale Audio
Tagging via Transformer-to-CNN Knowledge Distillation" (Schmid et al., 2023). Module names
follow the layout of EfficientAT's checkpoints so ``mn04_as`` loads with ``strict=True``; the
width multiplier and output count are parameters so training can reuse the same network.

Details that matter for the pretrained weights (all checked against the checkpoint's outputs):
BatchNorm eps 1e-3; a 3x3 stride-2 stem with hard-swish; squeeze-excitation on the channel axis
with a ReLU bottleneck of ``make_divisible(C // 4)`` and a *sigmoid* gate, placed after the
depthwise conv; stride-2 blocks at C1..C4; a 1x1 conv to 6x the last block's width; and an
MLP head (avg-pool, linear, hard-swish, dropout, linear).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block at width 1.0 (MobileNetV3-Large, Table 1)."""

    in_ch: int
    kernel: int
    expand_ch: int
    out_ch: int
    use_se: bool
    hard_swish: bool
    stride: int


# MobileNetV3-Large bottlenecks; strides 2 at C1..C4 downsample both frequency and time by 32.
LARGE_BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(16, 3, 16, 16, False, False, 1),
    BlockSpec(16, 3, 64, 24, False, False, 2),
    BlockSpec(24, 3, 72, 24, False, False, 1),
    BlockSpec(24, 5, 72, 40, True, False, 2),
    BlockSpec(40, 5, 120, 40, True, False, 1),
    BlockSpec(40, 5, 120, 40, True, False, 1),
    BlockSpec(40, 3, 240, 80, False, True, 2),
    BlockSpec(80, 3, 200, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 480, 112, True, True, 1),
    BlockSpec(112, 3, 672, 112, True, True, 1),
    BlockSpec(112, 5, 672, 160, True, True, 2),
    BlockSpec(160, 5, 960, 160, True, True, 1),
    BlockSpec(160, 5, 960, 160, True, True, 1),
)
LAST_CHANNEL = 1280


def conv_bn_act(
    in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, groups: int = 1,
    act: type[nn.Module] | None = None,
) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ activation): indices 0/1/2 match the checkpoint keys."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class ChannelSqueezeExcite(nn.Module):
    """Channel gate from the mean over frequency and time: sigmoid(W2 relu(W1 mean(x)))."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.fc2 = nn.Linear(squeeze, channels)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean(dim=(2, 3))
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(scale))))
        return x * scale[:, :, None, None]


class ConcurrentSE(nn.Module):
    """Holds the SE gates by axis as EfficientAT names them; only the channel gate is used.

    EfficientAT can run channel/frequency/time gates side by side and take their max; its
    AudioSet models use the channel gate alone, so this is a one-element list kept for the
    ``conc_se_layers.0`` checkpoint names.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        squeeze = make_divisible(channels // reduction, 8)
        self.conc_se_layers = nn.ModuleList([ChannelSqueezeExcite(channels, squeeze)])

    def forward(self, x: Tensor) -> Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (kxk, maybe strided) -> SE -> project (1x1), plus skip."""

    def __init__(self, in_ch: int, kernel: int, expand_ch: int, out_ch: int, *,
                 use_se: bool, hard_swish: bool, stride: int):
        super().__init__()
        act = nn.Hardswish if hard_swish else nn.ReLU
        layers: list[nn.Module] = []
        if expand_ch != in_ch:
            layers.append(conv_bn_act(in_ch, expand_ch, 1, act=act))
        layers.append(conv_bn_act(expand_ch, expand_ch, kernel, stride=stride,
                                  groups=expand_ch, act=act))
        if use_se:
            layers.append(ConcurrentSE(expand_ch))
        layers.append(conv_bn_act(expand_ch, out_ch, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return out + x if self.residual else out


class MobileNetV3Audio(nn.Module):
    """MobileNetV3 over [B, 1, mels, frames]; ``embed`` -> [B, D], ``forward`` -> logits.

    ``width_mult`` scales every layer as EfficientAT's ``mnXX`` models do (0.4 = mn04);
    ``num_classes`` sets the MLP head's output (527 for AudioSet).
    """

    def __init__(self, width_mult: float = 0.4, num_classes: int = 527, dropout: float = 0.2,
                 in_channels: int = 1):
        super().__init__()
        self.width_mult = float(width_mult)
        self.num_classes = int(num_classes)

        def width(ch: int) -> int:
            return make_divisible(ch * self.width_mult, 8)

        stem_ch = width(LARGE_BLOCKS[0].in_ch)
        layers: list[nn.Module] = [conv_bn_act(in_channels, stem_ch, 3, stride=2, act=nn.Hardswish)]
        for spec in LARGE_BLOCKS:
            layers.append(InvertedResidual(
                width(spec.in_ch), spec.kernel, width(spec.expand_ch), width(spec.out_ch),
                use_se=spec.use_se, hard_swish=spec.hard_swish, stride=spec.stride,
            ))
        last_in = width(LARGE_BLOCKS[-1].out_ch)
        self.embed_dim = 6 * last_in
        layers.append(conv_bn_act(last_in, self.embed_dim, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        hidden = width(LAST_CHANNEL)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(start_dim=1),
            nn.Linear(self.embed_dim, hidden),
            nn.Hardswish(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, self.num_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """MobileNetV3's initialisation, used only when training from scratch."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def feature_map(self, spec: Tensor) -> Tensor:
        """[B, 1, mels, frames] -> [B, embed_dim, mels/32, frames/32]."""
        return self.features(spec)

    def embed(self, spec: Tensor) -> Tensor:
        """Pooled embedding [B, embed_dim] (384 for mn04): the input to the MLP head."""
        return self.features(spec).mean(dim=(2, 3))

    def head(self, embedding: Tensor) -> Tensor:
        """MLP head on a pooled embedding -> logits [B, num_classes]."""
        return self.classifier[2:](embedding)

    def forward(self, spec: Tensor) -> Tensor:
        """Logits [B, num_classes]."""
        return self.head(self.embed(spec))

    def forward_with_embedding(self, spec: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, embedding) in one pass, for distillation and feature extraction."""
        emb = self.embed(spec)
        return self.head(emb), emb


def fold_batchnorm(model: MobileNetV3Audio) -> MobileNetV3Audio:
    """Return a copy for inference with each BatchNorm folded into the conv before it.

    Saves one pass over every activation map; outputs match to float rounding. The copy's
    ``state_dict`` no longer matches the checkpoint layout, so use it only for inference.
    """
    import copy

    folded = copy.deepcopy(model).eval()
    for seq in folded.modules():
        if not (isinstance(seq, nn.Sequential) and len(seq) >= 2
                and isinstance(seq[0], nn.Conv2d) and isinstance(seq[1], nn.BatchNorm2d)):
            continue
        conv, bn = seq[0], seq[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          conv.padding, conv.dilation, conv.groups, bias=True)
        with torch.no_grad():
            fused.weight.copy_(conv.weight * scale[:, None, None, None])
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        seq[0], seq[1] = fused, nn.Identity()
    return folded
