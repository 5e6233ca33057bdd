"""Mixdown for :mod:`tagger.audio.backends`: channels to one mono float32 signal in [-1, 1].

Every backend mixes through here, so the same file gives the same mono signal whichever backend
read it, and the repairs a scan needs happen in one place: NaN/inf or absurdly loud float
samples (which turn the spectrogram and then the scores into NaN) and channels that cancel in
the mix (anti-phase stereo, which would be scored as silence). Repairs are counted in a
:class:`MixStats` so :mod:`tagger.audio.decode` can tell the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# A float sample this far beyond full scale is no recording (18 dB over), and a chunk whose mean
# power exceeds its square is broken or scaled absurdly (x1e20 overflows the spectrogram's
# squares): such chunks are clipped.
MAX_SAMPLE = 8.0
MAX_POWER = MAX_SAMPLE * MAX_SAMPLE
# The mono mix is this much quieter than the first channel (power ratio, 20 dB): the channels
# cancel (L = -R, anti-phase), and the mix would be scored as silence.
CANCELLED_POWER = 0.01
_AUDIBLE_POWER = 1e-8  # mean power of the first channel below this is silence, nothing to fix


@dataclass
class MixStats:
    """What the mixdown repaired, counted in mono frames, so decode can note it for the user."""

    frames: int = 0
    nonfinite: int = 0  # NaN or +-inf samples, set to 0 / +-1
    clipped: int = 0  # finite samples beyond MAX_SAMPLE, clipped to +-1
    cancelled: int = 0  # frames whose channels cancelled out, replaced by the first channel

    @property
    def all_nonfinite(self) -> bool:
        return self.frames > 0 and self.nonfinite == self.frames

    def notes(self, sample_rate: int) -> list[str]:
        """One short clause per repair, for the track's note."""
        out = []
        if self.nonfinite:
            out.append(f"{self.nonfinite} NaN/infinite samples replaced")
        if self.clipped:
            out.append(f"{self.clipped} samples far beyond full scale clipped")
        if self.cancelled:
            out.append(f"channels cancel out (anti-phase) in {self.cancelled / sample_rate:.1f} s,"
                       " scored the first channel there")
        return out


def to_mono(channels: Sequence[np.ndarray], stats: MixStats) -> np.ndarray:
    """Equal-weight mixdown of 1-D channel arrays (views are fine) to float32 in [-1, 1].

    Why a loop over channels: ``a.mean(axis=1)`` on (frames, 2) arrays is ~20x slower (strided
    reduction), and a BLAS mat-vec may spawn threads in DataLoader workers. Equal weights (not
    FFmpeg's surround downmix) so every backend gives the same mono signal for the same file.
    """
    if len(channels) == 1:
        out = channels[0].astype(np.float32)  # always a fresh array: the sources reuse buffers
    else:
        out = np.add(channels[0], channels[1], dtype=np.float32)
        for c in channels[2:]:
            np.add(out, c, out=out, dtype=np.float32)
    first = channels[0] if len(channels) > 1 else None
    return finish_mix(out, channels[0].dtype, len(channels), stats, first)


def _scale(dtype: np.dtype[Any]) -> tuple[float, float]:
    """(scale, offset) that map one sample type to [-1, 1]."""
    if dtype == np.float32 or dtype == np.float64:
        return 1.0, 0.0
    if dtype == np.uint8:
        return 1.0 / 128, -128.0
    if np.issubdtype(dtype, np.signedinteger):
        return 1.0 / float(2 ** (8 * dtype.itemsize - 1)), 0.0
    raise TypeError(f"unsupported sample type {dtype}")


def columns(a: np.ndarray) -> list[np.ndarray]:
    """The channels of a packed (frames, channels) array, as views."""
    return [a[:, c] for c in range(a.shape[1])]


def finish_mix(summed: np.ndarray, dtype: np.dtype[Any], channels: int, stats: MixStats,
               first: np.ndarray | None = None) -> np.ndarray:
    """Scale a channel sum to the mean in [-1, 1], as :func:`to_mono` does, then repair it.

    Repairs, counted in ``stats``: non-finite or absurdly loud float samples (they would turn
    the spectrogram into NaN and the scores with it), and channels that cancel in the mean
    (``first``, the first channel as read, is then used instead of a silent mix). Clean audio
    costs one multiply-add pass per channel (measured: two passes more cost mp3 decoding a
    third of its speed).
    """
    scale, offset = _scale(dtype)
    if offset:
        summed += np.float32(offset * channels)
    if scale != 1.0 or channels != 1:
        summed *= np.float32(scale / channels)
    n = len(summed)
    stats.frames += n
    if n == 0:
        return summed
    is_float = dtype.kind == "f"
    power = _power(summed)
    if is_float and not power <= MAX_POWER:  # NaN and inf fail the test too
        _clean(summed, stats)
        power = _power(summed)
    if first is None:
        return summed
    alone = first if first.dtype == np.float32 and not offset else first.astype(np.float32)
    if offset:
        alone += np.float32(offset)
    first_power = _power(alone) * scale * scale  # inf when huge samples cancel in the mix
    if first_power > _AUDIBLE_POWER and power < CANCELLED_POWER * first_power:
        alone = alone * np.float32(scale)  # a new array: sources reuse their buffers
        if is_float:
            _clean(alone, MixStats())  # its repairs are counted in the mix already
        stats.cancelled += n
        return alone
    return summed


def _power(x: np.ndarray) -> float:
    """Mean square, in one pass and no temporary (einsum's own loop: no BLAS threads)."""
    return float(np.einsum("i,i->", x, x)) / len(x)


def _clean(x: np.ndarray, stats: MixStats) -> None:
    """In place: NaN to 0, +-inf and samples beyond MAX_SAMPLE to +-1, and the chunk clipped
    to [-1, 1] (it is broken: a player's output would clip it too)."""
    stats.nonfinite += len(x) - int(np.count_nonzero(np.isfinite(x)))
    np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    stats.clipped += int(np.count_nonzero(np.abs(x) > MAX_SAMPLE))
    np.clip(x, -1.0, 1.0, out=x)
