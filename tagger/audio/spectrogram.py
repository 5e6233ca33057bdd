"""The display spectrogram: a log-mel picture of audio for people (``show --plot``, the label page).

Not the model's input (that is the network's own frontend, :mod:`tagger.model`): this one only
has to look right and agree between the PNG plot and the labeling page. One mel filterbank (HTK
scale, unnormalised triangles from ``FMIN_HZ``: librosa's matrix) and a plain-numpy STFT in
blocks, so a 3-hour track never holds its whole frame matrix in memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["FMIN_HZ", "mel_filters", "log_mel_db", "mel_axis"]

FMIN_HZ = 30.0  # below this is rumble, and the lowest bands would be narrower than an FFT bin
# Frequencies labelled on a mel axis: those outside FMIN_HZ..Nyquist, or closer to the one
# below than a share of the axis (TICK_GAP unless told: labels would overlap), are dropped.
HZ_TICKS = (100, 250, 500, 1000, 2000, 4000, 8000, 16000)
TICK_GAP = 0.045


@lru_cache(maxsize=8)
def mel_filters(*, sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters ``(n_mels, n_fft // 2 + 1)``, peak 1, HTK mel scale, FMIN_HZ..Nyquist.

    The same matrix as ``librosa.filters.mel(htk=True, norm=None)`` (a test compares them), in
    numpy: librosa's filters import scipy.signal, which costs 1.5-6 s (measured on the 2-core
    VM), longer than the rest of ``show --plot`` on a short track.
    """
    low, high = _hz_to_mel(FMIN_HZ), _hz_to_mel(sample_rate / 2)
    edges = 700.0 * (10.0 ** (np.linspace(low, high, n_mels + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    filters = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    filters.flags.writeable = False  # shared by every caller through the cache
    return filters


def log_mel_db(
    audio: np.ndarray, *, sample_rate: int, n_fft: int = 2048, hop_length: int = 512,
    n_mels: int = 128, top_db: float = 80.0, block_frames: int = 4096,
) -> np.ndarray:
    """Mel power in dB below the loudest cell, floored at ``-top_db``: ``(n_mels, frames)``.

    Frame ``k`` is centred on sample ``k * hop_length`` (the signal is padded by ``n_fft // 2``
    at both ends), so column ``k`` belongs at time ``k * hop_length / sample_rate``.
    """
    samples = np.asarray(audio, dtype=np.float32)
    mode = "reflect" if len(samples) > n_fft // 2 else "constant"
    padded = np.pad(samples, n_fft // 2, mode=mode)
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = np.hanning(n_fft).astype(np.float32)
    filters = mel_filters(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels)
    out = np.empty((n_mels, len(frames)), dtype=np.float32)
    for start in range(0, len(frames), block_frames):
        block = frames[start:start + block_frames] * window
        power = np.abs(np.fft.rfft(block, axis=1)) ** 2
        out[:, start:start + len(block)] = filters @ power.T
    db = 10.0 * np.log10(np.maximum(out, 1e-10))
    return np.maximum(db - db.max(), -top_db)


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * float(np.log10(1.0 + hz / 700.0))  # HTK, as the filters


def mel_axis(sample_rate: int, n_mels: int, *, min_gap: float = TICK_GAP
             ) -> tuple[tuple[float, float], list[tuple[float, str]]]:
    """Where the rows of a :func:`log_mel_db` image sit on a mel axis, and Hz ticks for it.

    Returns ``((bottom, top), [(mel, "500"), (mel, "1k"), ...])``: drawn with that vertical
    extent, row ``k`` is centred on its filter's centre frequency; a tick at ``mel`` marks
    that many Hz.
    """
    low, high = _hz_to_mel(FMIN_HZ), _hz_to_mel(sample_rate / 2)
    step = (high - low) / (n_mels + 1)  # n_mels + 2 evenly spaced edges, centres between
    ticks: list[tuple[float, str]] = []
    for hz in HZ_TICKS:
        mel = _hz_to_mel(hz)
        apart = not ticks or mel - ticks[-1][0] >= min_gap * (high - low)
        if FMIN_HZ < hz < sample_rate / 2 and apart:
            ticks.append((mel, f"{hz // 1000}k" if hz >= 1000 else str(hz)))
    return (low + step / 2, high - step / 2), ticks
