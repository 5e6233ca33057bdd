"""Small signal helpers shared by every part of the data engine.

Why these live apart from :mod:`tagger.audio`: the data engine needs a few things a scan does
not (level normalisation, activity envelopes, int16 storage) and skips a file it cannot read
with a warning. Reading itself is the scan's decoder (:func:`tagger.audio.decode.decode`), so
training and scanning hear the same samples.
"""

from __future__ import annotations

import numpy as np
import soxr

from tagger.errors import TaggerError

# Every stem in the cache is stored at this rate; banks are resampled once to the trainer's rate.
CACHE_SR = 32000
# Activity envelopes have one RMS value per 10 ms, whatever the audio rate.
ENV_RATE = 100
# A frame counts as "sounding" above this RMS, relative to the stem's typical level (-30 dB):
# quieter than that, a part is inaudible under any other part of a mix.
ACTIVE_THRESHOLD = 10 ** (-30 / 20)


class AudioLoadError(TaggerError):
    """A file that cannot be read as audio; the message is one line naming the file."""


def load_audio(path: str, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` with the scan's decoder.

    Any failure becomes an :class:`AudioLoadError`, so callers can skip the file with a warning
    instead of crashing. (Old Vorbis files FFmpeg refuses are read by libsndfile inside the
    decoder, which tries it first for Vorbis.)
    """
    from tagger.audio.decode import decode

    try:
        audio = decode(path, sample_rate=sample_rate)
    except Exception as exc:  # a DecodeError, or whatever an odd file makes a backend raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioLoadError(f"cannot read {path}: {msg}") from exc
    if audio.size == 0:
        raise AudioLoadError(f"cannot read {path}: no samples")
    if not np.all(np.isfinite(audio)):
        raise AudioLoadError(f"cannot read {path}: non-finite samples")
    return audio


def load_many(paths: list[str], sample_rate: int, *, what: str = "files"
              ) -> list[tuple[int, np.ndarray]]:
    """(index, audio) for every path that decodes; one warning for all that do not.

    One warning per batch, not per file: a folder of 100 bad files should say so once.
    """
    import warnings

    out, bad = [], []
    for i, p in enumerate(paths):
        try:
            out.append((i, load_audio(p, sample_rate)))
        except AudioLoadError as exc:
            bad.append(str(exc))
    if bad:
        warnings.warn(f"skipped {len(bad)} of {len(paths)} {what} that cannot be read "
                      f"(first: {bad[0]})", stacklevel=2)
    return out


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling (soxr); a no-op when the rates match."""
    if rate_in == rate_out or x.size == 0:
        return np.asarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), rate_in, rate_out).astype(np.float32)


def frame_rms(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS per 10-ms frame (the last partial frame included), float32."""
    hop = sample_rate // ENV_RATE
    n = -(-len(x) // hop)
    padded = np.zeros(n * hop, dtype=np.float32)
    padded[: len(x)] = x
    return np.sqrt(np.mean(padded.reshape(n, hop) ** 2, axis=1) + 1e-20).astype(np.float32)


def unit_level(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale ``x`` so its *active* RMS is 1; return (scaled, envelope, scale factor used).

    The active RMS is taken over frames within 40 dB of the loudest frame, so long silences or
    gaps between notes do not make a sparse part look quiet: a mix then sets every part's level
    in dB against a common reference, whatever its density.
    """
    env = frame_rms(x, sample_rate)
    peak = float(env.max()) if env.size else 0.0
    if peak <= 1e-6:
        return x.astype(np.float32), np.zeros_like(env), 1.0
    active = env[env > peak * 0.01]
    level = float(np.sqrt(np.mean(active**2)))
    scale = 1.0 / level
    return (x * scale).astype(np.float32), (env * scale).astype(np.float32), scale


def to_int16(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Store float audio as int16 with a per-stem factor, so loud drums never clip in storage."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    factor = peak / 32767.0 if peak > 0 else 1.0
    q = np.round(x / factor).astype(np.int16) if peak > 0 else np.zeros(len(x), np.int16)
    return q, factor


def trim_silence(x: np.ndarray, sample_rate: int, *, db: float = -50.0) -> np.ndarray:
    """Cut leading and trailing frames more than ``-db`` below the loudest frame."""
    env = frame_rms(x, sample_rate)
    if env.size == 0 or env.max() <= 0:
        return x[:0]
    keep = np.flatnonzero(env > env.max() * 10 ** (db / 20))
    hop = sample_rate // ENV_RATE
    return x[keep[0] * hop : (keep[-1] + 1) * hop]


def fade(x: np.ndarray, sample_rate: int, *, fade_in_s: float = 0.003, fade_out_s: float = 0.05
         ) -> np.ndarray:
    """Apply short linear fades so cut notes and clips never click."""
    y = np.array(x, dtype=np.float32, copy=True)
    n_in = min(len(y), int(fade_in_s * sample_rate))
    n_out = min(len(y), int(fade_out_s * sample_rate))
    if n_in > 0:
        y[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out > 0:
        y[len(y) - n_out :] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
    return y


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch by resampling (duration changes with it, like a sampler playing faster).

    Only used within a couple of semitones of a recorded note, where the timbre change of this
    simple method stays small; it is what hardware samplers do.
    """
    if abs(semitones) < 1e-3:
        return np.asarray(x, dtype=np.float32)
    ratio = 2.0 ** (semitones / 12.0)
    n_out = max(1, int(len(x) / ratio))
    pos = np.arange(n_out, dtype=np.float64) * ratio
    return np.interp(pos, np.arange(len(x)), x).astype(np.float32)
