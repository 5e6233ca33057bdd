"""Waveform -> log-mel frontend, owned by the network so every caller gets the same input.

It reproduces the eval-time input representation EfficientAT's AudioSet models were trained
with (Schmid et al., ICASSP 2023): pre-emphasis, a power STFT with a symmetric Hann window, a
Kaldi-style triangular mel filterbank (no area normalisation), ``log(x + 1e-5)`` and the fixed
affine ``(x + 4.5) / 5``. Getting any of these wrong silently costs accuracy, so the constants
live here and nowhere else. Pure torch (no torchaudio) so it runs wherever the CNN runs.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import Tensor, nn

from tagger.model.card import FrontendConfig

PREEMPHASIS = 0.97
LOG_OFFSET = 1e-5
NORM_SHIFT = 4.5
NORM_SCALE = 5.0
# EfficientAT sets f_max to Nyquist minus half its 2 kHz augmentation range when none is given.
DEFAULT_FMAX_MARGIN = 1000.0
MEL_BLOCK_ROWS = 16


def _kaldi_mel(freq_hz: np.ndarray) -> np.ndarray:
    """Kaldi's mel scale (natural log, 1127 factor)."""
    return 1127.0 * np.log1p(freq_hz / 700.0)


def kaldi_mel_banks(
    *, n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float
) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), as Kaldi builds them.

    Kaldi evaluates the triangles on the mel axis at the first ``n_fft // 2`` FFT bins and leaves
    the Nyquist bin out (weight 0), peaks at 1 and does not normalise filter areas.
    """
    nyquist = 0.5 * sample_rate
    if f_max <= 0.0:
        f_max += nyquist
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ValueError(f"need 0 <= f_min < f_max <= {nyquist}, got {f_min}, {f_max}")
    n_bins = n_fft // 2
    mel_lo, mel_hi = _kaldi_mel(np.float64(f_min)), _kaldi_mel(np.float64(f_max))
    delta = (mel_hi - mel_lo) / (n_mels + 1)
    idx = np.arange(n_mels, dtype=np.float64)[:, None]
    left, center, right = (mel_lo + (idx + k) * delta for k in (0.0, 1.0, 2.0))
    mel = _kaldi_mel(np.arange(n_bins, dtype=np.float64) * sample_rate / n_fft)[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)


def _band_blocks(banks: np.ndarray, rows: int) -> list[tuple[int, int, int, int]]:
    """Cut the filterbank into groups of ``rows`` filters, each with the FFT-bin span it touches.

    The triangles are local, so multiplying each group by its own bin span does ~8x fewer
    multiply-adds than the dense (n_mels x bins) matmul, with the same result.
    """
    blocks = []
    for r0 in range(0, banks.shape[0], rows):
        r1 = min(r0 + rows, banks.shape[0])
        cols = np.flatnonzero(banks[r0:r1].any(axis=0))
        c0, c1 = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 1)
        blocks.append((r0, r1, c0, c1))
    return blocks


def resolve_fmax(config: FrontendConfig, sample_rate: int) -> float:
    """The upper mel edge in Hz; ``None`` means EfficientAT's default (Nyquist - 1 kHz)."""
    if config.f_max is None:
        return sample_rate / 2 - DEFAULT_FMAX_MARGIN
    return float(config.f_max)


class LogMel(nn.Module):
    """Waveform [B, T] -> normalised log-mel [B, 1, n_mels, frames].

    ``frames = (T - 1) // hop_length + 1`` (pre-emphasis drops one sample, the STFT is centred),
    so 10 s at 32 kHz gives the 1000 frames the pretrained CNN saw in training.
    """

    def __init__(self, config: FrontendConfig, sample_rate: int):
        super().__init__()
        self.config = config
        self.sample_rate = int(sample_rate)
        self.n_fft = int(config.n_fft)
        self.win_length = int(config.win_length)
        self.hop_length = int(config.hop_length)
        if self.win_length > self.n_fft:
            raise ValueError("win_length must not exceed n_fft")
        banks = kaldi_mel_banks(
            n_mels=int(config.n_mels),
            n_fft=self.n_fft,
            sample_rate=self.sample_rate,
            f_min=float(config.f_min),
            f_max=resolve_fmax(config, self.sample_rate),
        )
        # Only FFT bins some filter touches are computed on (bins 1..480 of 513 at 32 kHz with
        # f_max 15 kHz): the mel matmul costs as much as the CNN's depthwise convs otherwise.
        used = np.flatnonzero(banks.any(axis=0))
        self.bin_lo, self.bin_hi = int(used[0]), int(used[-1]) + 1
        # Non-persistent: derived from the card, so checkpoints stay independent of them.
        self.register_buffer("mel_banks", torch.from_numpy(banks), persistent=False)
        used_banks = np.ascontiguousarray(banks[:, self.bin_lo : self.bin_hi])
        self.register_buffer("mel_used", torch.from_numpy(used_banks), persistent=False)
        self.mel_blocks = _band_blocks(used_banks, MEL_BLOCK_ROWS)
        window = torch.hann_window(self.win_length, periodic=False)
        self.register_buffer("window", window, persistent=False)

    def frames(self, n_samples: int) -> int:
        """Number of output frames for a waveform of ``n_samples``."""
        return (n_samples - 1) // self.hop_length + 1

    def forward(self, wave: Tensor) -> Tensor:
        if wave.dim() != 2:
            raise ValueError(f"expected waveform [B, T], got shape {tuple(wave.shape)}")
        wave = wave.float()
        if torch.is_grad_enabled() or wave.device.type != "cpu" or wave.shape[1] <= self.n_fft:
            return self.plain(wave)
        return self._skipping_silence(wave)

    def plain(self, wave: Tensor) -> Tensor:
        """The reference computation (training, GPU): one centred STFT over every sample."""
        emphasised = torch.add(wave[:, 1:], wave[:, :-1], alpha=-PREEMPHASIS)
        spec = torch.stft(
            emphasised,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            return_complex=True,
        )
        spec = spec[:, self.bin_lo : self.bin_hi]
        power = spec.real.square() + spec.imag.square()  # [B, used bins, frames]
        return self._log_mel(power)

    def _skipping_silence(self, wave: Tensor) -> Tensor:
        """``plain``'s numbers (bit for bit, tested) at less cost on CPU without gradients.

        Why: a short clip is zero-padded to the window (a 1-s clip pays a 5-s STFT), and the
        STFT of an all-zero frame is exactly zero, so its log-mel column is a constant. Frames
        after a row's last non-zero sample are left at zero power instead of transformed; the
        reflect padding is two small copies into one buffer (torch's reflect pad measured 3 ms
        of a 15-ms batch of 8 windows), and the STFT runs uncentred on that buffer.
        """
        rows, n = wave.shape[0], wave.shape[1] - 1
        pad, hop = self.n_fft // 2, self.hop_length
        buf = wave.new_empty(rows, n + 2 * pad)
        torch.add(wave[:, 1:], wave[:, :-1], alpha=-PREEMPHASIS, out=buf[:, pad : pad + n])
        buf[:, :pad] = buf[:, pad + 1 : 2 * pad + 1].flip(-1)  # reflect, as torch.stft pads
        buf[:, pad + n :] = buf[:, n - 1 : pad + n - 1].flip(-1)
        frames = (n + 2 * pad - self.n_fft) // hop + 1  # as the centred STFT counts (odd n_fft too)
        live = [frames] * rows
        for row in (wave[:, -1] == 0).nonzero()[:, 0].tolist():
            nonzero = wave[row].numpy() != 0
            end = len(nonzero) - int(nonzero[::-1].argmax()) if nonzero.any() else 0
            if end < n - pad:  # the end's reflection is silent too: frames past it are zeros
                live[row] = min(frames, -(-(pad + end) // hop))  # frames starting before it
        stft = partial(torch.stft, n_fft=self.n_fft, hop_length=hop, win_length=self.win_length,
                       window=self.window, center=False, return_complex=True)
        lo, hi = self.bin_lo, self.bin_hi
        if min(live) == frames:
            spec = stft(buf)[:, lo:hi]
            return self._log_mel(spec.real.square() + spec.imag.square())
        power = wave.new_zeros(rows, frames, hi - lo)  # the layout plain's power has in memory
        for row, count in enumerate(live):
            spec = stft(buf[row, : (count - 1) * hop + self.n_fft]).T[:, lo:hi]
            power[row, :count] = spec.real.square()
            power[row, :count] += spec.imag.square()
        return self._log_mel(power.transpose(1, 2))

    def _log_mel(self, power: Tensor) -> Tensor:
        """Power [B, used bins, frames] -> normalised log-mel [B, 1, n_mels, frames]."""
        with torch.autocast(device_type=power.device.type, enabled=False):
            power = power.float()
            mel = torch.cat([torch.matmul(self.mel_used[r0:r1, c0:c1], power[:, c0:c1])
                             for r0, r1, c0, c1 in self.mel_blocks], dim=1)
        if torch.is_grad_enabled() and mel.requires_grad:
            logmel = torch.log(mel + LOG_OFFSET)
            return ((logmel + NORM_SHIFT) / NORM_SCALE).unsqueeze(1)
        # In place when no gradient is needed: saves three full-size allocations per batch.
        return mel.add_(LOG_OFFSET).log_().add_(NORM_SHIFT).div_(NORM_SCALE).unsqueeze(1)
