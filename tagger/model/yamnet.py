"""YAMNet (Google's AudioSet MobileNetV1, 521 classes) in PyTorch, weights read from its .tflite.

Why a port: YAMNet is a teacher / starting point for the tagger, and the project speaks PyTorch
and logits, not TFLite and sigmoid scores, and must not depend on TensorFlow. The port follows
the graph *in the .tflite* (see ``tflite_reader.TFLiteModel.describe()``), not the paper, because
the converted graph is what the reference interpreter runs:

- frames of 400 samples every 160 (no padding of the waveform), times a periodic Hann window,
  zero-padded **56 left and 56 right** to 512 (centred, unlike ``tf.signal.stft``);
- the DFT is two FULLY_CONNECTED ops with int8 cos/sin matrices (scale 1/127), so we use the
  file's dequantized matrices rather than an exact FFT; magnitude (not power) spectrum;
- a 64x257 int8 mel matrix plus a bias of 0.001 (the ``log(mel + 0.001)`` offset), then ``log``;
- patches of 96 frames every 48 frames; MobileNetV1 with TF "SAME" padding, ReLU after every
  conv, mean over time and frequency (the 1024-d embedding), a 521-way dense layer, sigmoid.

The pointwise convs and the four FULLY_CONNECTED ops hold int8 weights (one scale per tensor)
used directly by the interpreter: dynamic-range "hybrid" kernels that also quantize each input
on the fly. The depthwise weights are int8 too but go through DEQUANTIZE ops, so run in float.
Activation quantization is not noise we can ignore: it moves log-mel values by up to ~6 (quiet
bins snap to 0, i.e. to log(0.001)) and scores by up to ~0.5. ``emulate_hybrid`` mimics it:

- ``"xnnpack"`` (or True): what ``ai_edge_litert``'s Interpreter runs by default (its XNNPACK
  delegate): asymmetric int8 per row of an FC input and per pixel of a conv input;
- ``"reference"``: TFLite's builtin kernels (no delegate): symmetric int8, ``max|x| / 127``,
  per row of an FC input and per whole image of a conv input.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tagger.model.errors import ModelNotFoundError
from tagger.model.tflite_reader import TFLiteModel, read_tflite

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
N_FFT = 512
N_BINS = N_FFT // 2 + 1
N_MELS = 64
PATCH_FRAMES = 96
PATCH_HOP = 48
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW  # 15600: what one tflite call takes
N_CLASSES = 521
EMBED_DIM = 1024
# (depthwise stride, output channels) of layers 2..14; layer 1 is a full 3x3 conv, stride 2, 32ch.
BLOCKS: tuple[tuple[int, int], ...] = (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024),
)


def _round_half_away(x: Tensor) -> Tensor:
    """``std::round`` (TfLiteRound): ties away from zero, unlike torch.round's ties-to-even."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def fake_quant_symmetric(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """TFLite's reference hybrid kernels: int8 in [-127, 127] times ``max|x| / 127``.

    One scale per slice over ``dims``; an all-zero slice stays zero.
    """
    amax = x.abs().amax(dim=dims, keepdim=True)
    safe = torch.where(amax > 0, amax, torch.ones_like(amax))
    q = torch.clamp(_round_half_away(x * (127.0 / safe)), -127.0, 127.0)
    return q * (safe / 127.0)


def fake_quant_asymmetric(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """XNNPACK's dynamic int8 ("qd8"): range [min(x, 0), max(x, 0)] onto [-128, 127].

    The zero point is chosen from whichever end gives the smaller error and rounded (ties to
    even, like ``lrintf``), so 0 stays exactly representable.
    """
    lo = torch.clamp(x.amin(dim=dims, keepdim=True), max=0.0)
    hi = torch.clamp(x.amax(dim=dims, keepdim=True), min=0.0)
    inv = torch.where(hi > lo, 255.0 / (hi - lo), torch.ones_like(hi))
    from_lo, from_hi = -128.0 - lo * inv, 127.0 - hi * inv
    zero = torch.where((-128.0 + lo * inv) + (127.0 + hi * inv) > 0, from_lo, from_hi)
    zero = torch.round(torch.clamp(zero, -128.0, 127.0))
    q = torch.clamp(torch.round(x * inv) + zero, -128.0, 127.0)
    return (q - zero) / inv


def _fake_quant(x: Tensor, mode: str, fc: bool) -> Tensor:
    """Fake-quantize an FC input [..., features] (per row) or a conv input [N, C, H, W]."""
    if mode == "xnnpack":
        return fake_quant_asymmetric(x, (-1,) if fc else (1,))
    return fake_quant_symmetric(x, (-1,) if fc else (1, 2, 3))


def _same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TF "SAME" padding of the last two dims: the odd pixel goes after (bottom/right)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _Conv(nn.Conv2d):
    """A conv with TF SAME padding, ReLU, and optional hybrid-int8 input emulation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=True)
        self.hybrid = False  # set by load_yamnet from the graph: int8 weights used as such

    def forward(self, x: Tensor, emulate: str | None = None) -> Tensor:  # type: ignore[override]
        if emulate and self.hybrid:
            x = _fake_quant(x, emulate, fc=False)
        x = _same_pad(x, self.kernel_size[0], self.stride[0])
        return F.relu(F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups))


class YamNet(nn.Module):
    """Waveform at 16 kHz [B, T] -> logits [B, P, 521], one row per 0.96-s patch (hop 0.48 s).

    ``P = 1 + (frames - 96) // 48`` with ``frames = 1 + (T - 400) // 160``; clips shorter than
    15600 samples are zero-padded to one patch. ``sigmoid(logits)`` are the tflite's scores.
    """

    def __init__(self, emulate_hybrid: bool | str = False) -> None:
        super().__init__()
        self.emulate_hybrid = emulate_hybrid
        # Frontend constants live in the state_dict: the tflite's int8 DFT differs from an
        # exact one by up to 1/254, and matching the reference matters more than elegance.
        self.register_buffer("window", torch.zeros(WINDOW))
        self.register_buffer("dft", torch.zeros(2 * N_BINS, WINDOW))  # cos rows, then sin rows
        self.register_buffer("mel", torch.zeros(N_MELS, N_BINS))
        self.register_buffer("mel_bias", torch.zeros(N_MELS))
        self.hybrid_frontend = False
        self.stem = _Conv(1, 32, 3, 2)
        layers: list[nn.Module] = []
        cin = 32
        for stride, cout in BLOCKS:
            layers += [_Conv(cin, cin, 3, stride, groups=cin), _Conv(cin, cout, 1, 1)]
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.classifier = nn.Linear(EMBED_DIM, N_CLASSES)
        self.hybrid_classifier = False

    @property
    def emulate_hybrid(self) -> str | None:
        """None (float), "xnnpack" or "reference": which int8 activation rounding to mimic."""
        return self._emulate

    @emulate_hybrid.setter
    def emulate_hybrid(self, mode: bool | str | None) -> None:
        mode = "xnnpack" if mode is True else (mode or None)
        if mode not in (None, "xnnpack", "reference"):
            raise ValueError(f"emulate_hybrid: False, True, 'xnnpack' or 'reference', not {mode!r}")
        self._emulate = mode

    def _fq(self, x: Tensor, on: bool) -> Tensor:
        return _fake_quant(x, self._emulate, fc=True) if (on and self._emulate) else x

    def log_mel(self, wave16k: Tensor) -> Tensor:
        """[B, T] -> [B, frames, 64] ``log(mel(|DFT|) + 0.001)``, as the tflite's 2nd output."""
        if wave16k.shape[-1] < PATCH_SAMPLES:
            wave16k = F.pad(wave16k, (0, PATCH_SAMPLES - wave16k.shape[-1]))
        frames = wave16k.unfold(-1, WINDOW, HOP) * self.window
        spec = self._fq(frames, self.hybrid_frontend) @ self.dft.T
        re, im = spec[..., :N_BINS], spec[..., N_BINS:]
        mag = torch.sqrt(re * re + im * im)
        return torch.log(self._fq(mag, self.hybrid_frontend) @ self.mel.T + self.mel_bias)

    def patches(self, wave16k: Tensor) -> Tensor:
        """[B, T] -> [B, P, 96, 64] log-mel patches, 96 frames every 48."""
        return self.log_mel(wave16k).unfold(1, PATCH_FRAMES, PATCH_HOP).transpose(-1, -2)

    def embed(self, wave16k: Tensor) -> Tensor:
        """[B, T] -> [B, P, 1024]: the mean-pooled last conv layer, YAMNet's embedding."""
        p = self.patches(wave16k)
        b, n = p.shape[:2]
        x = self.stem(p.reshape(b * n, 1, PATCH_FRAMES, N_MELS), self.emulate_hybrid)
        for layer in self.layers:
            x = layer(x, self.emulate_hybrid)
        return x.mean(dim=(2, 3)).reshape(b, n, EMBED_DIM)

    def forward(self, wave16k: Tensor) -> Tensor:
        """[B, T] -> [B, P, 521] logits (pre-sigmoid)."""
        return self.classifier(self._fq(self.embed(wave16k), self.hybrid_classifier))

    def scores(self, wave16k: Tensor) -> Tensor:
        """[B, P, 521] sigmoid scores, what the tflite outputs."""
        return torch.sigmoid(self.forward(wave16k))


def _weight_of(model: TFLiteModel, op_input: int) -> tuple[np.ndarray, bool]:
    """The float weights feeding an op, and whether the op consumes int8 directly (hybrid).

    Int8 weights behind a DEQUANTIZE op are used in float by the interpreter; int8 weights
    wired straight into CONV_2D / FULLY_CONNECTED make that op a hybrid one.
    """
    producers = {o: op for op in model.operators for o in op.outputs}
    tensor = model.tensors[op_input]
    if op_input in producers and producers[op_input].opcode == "DEQUANTIZE":
        return model.tensors[producers[op_input].inputs[0]].dequantize(), False
    if tensor.data is None:
        raise ValueError(f"weights {tensor.name!r} are not constant")
    return tensor.dequantize(), tensor.type in ("INT8", "UINT8")


def _state_from_tflite(model: TFLiteModel, path: Path) -> tuple[dict[str, Tensor], dict[str, bool]]:
    """Walk the graph's weighted ops in run order and map them onto YamNet's parameters."""
    t = model.tensors
    ops = [op for op in model.operators
           if op.opcode in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")]
    expected = ["FULLY_CONNECTED"] * 3 + ["CONV_2D"] + \
               ["DEPTHWISE_CONV_2D", "CONV_2D"] * len(BLOCKS) + ["FULLY_CONNECTED"]
    if [op.opcode for op in ops] != expected:
        raise ValueError(f"{path}: not a YAMNet tflite (unexpected operators)")
    window = next(x for x in model.operators if x.opcode == "MUL").inputs[1]
    pad = next(x for x in model.operators if x.opcode == "PAD").inputs[1]
    left = int(t[pad].data[-1][0])
    state: dict[str, np.ndarray] = {"window": t[window].data.reshape(-1)}
    (cos, h1), (sin, h2), (mel, h3) = (_weight_of(model, op.inputs[1]) for op in ops[:3])
    state["dft"] = np.concatenate([cos, sin])[:, left:left + WINDOW]
    state["mel"], state["mel_bias"] = mel, t[ops[2].inputs[2]].data
    hybrid = {"hybrid_frontend": h1 and h2 and h3}
    names = ["stem"] + [f"layers.{i}" for i in range(2 * len(BLOCKS))]
    for name, op in zip(names, ops[3:-1]):
        w, hybrid[name] = _weight_of(model, op.inputs[1])
        perm = (3, 0, 1, 2) if op.opcode == "DEPTHWISE_CONV_2D" else (0, 3, 1, 2)
        state[f"{name}.weight"] = w.transpose(perm)  # TFLite OHWI / 1HWC -> torch OIHW
        state[f"{name}.bias"] = t[op.inputs[2]].data
    state["classifier.weight"], hybrid["hybrid_classifier"] = _weight_of(model, ops[-1].inputs[1])
    state["classifier.bias"] = t[ops[-1].inputs[2]].data
    tensors = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in state.items()}
    return tensors, hybrid


def load_yamnet(path: str | Path, emulate_hybrid: bool | str = False) -> YamNet:
    """A YamNet with the weights of the tflite at ``path`` (int8 dequantized), in eval mode.

    Raises ``ModelNotFoundError`` if the file is missing and ``ValueError`` (naming the file)
    if it is not a YAMNet tflite; the state_dict is loaded strictly.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no YAMNet tflite at {path}")
    try:
        graph = read_tflite(path)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:  # struct.error is a ValueError
        raise ValueError(f"{path}: not a readable TFLite file ({exc})") from None
    state, hybrid = _state_from_tflite(graph, path)
    net = YamNet(emulate_hybrid=emulate_hybrid)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise ValueError(f"{path}: not a YAMNet tflite ({first})") from None
    for name, flag in hybrid.items():
        if name.startswith("hybrid_"):
            setattr(net, name, flag)
        else:
            net.get_submodule(name).hybrid = flag
    return net.eval()
