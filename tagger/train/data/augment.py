"""Augmentation: make a clean mix sound like a recording someone put in their library.

Why these and why here: real tracks come with rooms, microphones, EQ, mastering and lossy
codecs; stems rendered from a SoundFont come with none of them, and each SoundFont has its own
tone. Randomising EQ per stem and per mix keeps the model from learning "this tone = that
SoundFont = that class". Everything that filters is done in one FFT per clip (EQ, band limit
and reverb multiply into one spectrum), so a 3-s clip costs a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft


@dataclass
class AugmentConfig:
    """Probabilities and ranges; ``none()`` gives a config that only sets the level."""

    p_stem_eq: float = 0.5
    p_eq: float = 0.7
    eq_db: float = 8.0
    p_reverb: float = 0.5
    reverb_s: tuple[float, float] = (0.2, 1.8)
    p_bandlimit: float = 0.3  # codec-like low-pass (and sometimes a phone-like high-pass)
    p_noise: float = 0.3
    snr_db: tuple[float, float] = (15.0, 50.0)
    p_compress: float = 0.3
    level_dbfs: tuple[float, float] = (-32.0, -12.0)

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(p_stem_eq=0, p_eq=0, p_reverb=0, p_bandlimit=0, p_noise=0, p_compress=0,
                   level_dbfs=(-20.0, -20.0))


def _lfilter(b: list[float], a: list[float], x: np.ndarray) -> np.ndarray:
    """scipy's IIR filter, imported on first use: scipy.signal takes ~1.4 s to import, which
    every importer of the training data paid (the CLI's train command, the test collection)."""
    from scipy.signal import lfilter

    return lfilter(b, a, x)


def _impulse_response(sample_rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: pre-delay, a few early reflections, then a decaying noise tail whose
    highs die faster than its lows (air and walls absorb treble)."""
    n = int(min(rt60, 1.8) * sample_rate)
    t = np.arange(n) / sample_rate
    noise = rng.standard_normal(n)
    lows = _lfilter([0.15], [1, -0.85], noise)
    highs = noise - lows
    ir = lows * np.exp(-6.9 * t / rt60) + 0.5 * highs * np.exp(-6.9 * t / (0.45 * rt60))
    for _ in range(int(rng.integers(3, 8))):
        ir[int(rng.uniform(0.003, 0.04) * sample_rate)] += rng.uniform(-1.5, 1.5)
    ir = np.concatenate([np.zeros(int(rng.uniform(0.0, 0.03) * sample_rate)), ir])
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


class Augmenter:
    """Per-stem and per-mix effects for clips of ``n_samples`` at ``sample_rate``.

    Impulse responses and noise beds are made once (seeded) and reused, so each clip only pays
    for one rfft/irfft pair and a few vector operations.
    """

    def __init__(self, sample_rate: int, n_samples: int, config: AugmentConfig | None = None,
                 *, seed: int = 1234, n_rooms: int = 12):
        self.sample_rate, self.n = sample_rate, n_samples
        self.cfg = config or AugmentConfig()
        rng = np.random.default_rng(seed)
        max_ir = int(1.9 * sample_rate)
        self.n_fft = sfft.next_fast_len(n_samples + max_ir, real=True)
        self.freqs = sfft.rfftfreq(self.n_fft, 1.0 / sample_rate).astype(np.float32)
        self._grid = np.geomspace(20.0, sample_rate / 2, 256)
        self.rooms = [sfft.rfft(_impulse_response(sample_rate, float(rng.uniform(
            *self.cfg.reverb_s)), rng), self.n_fft).astype(np.complex64) for _ in range(n_rooms)]
        self.noises = self._noise_beds(rng)

    def _noise_beds(self, rng: np.random.Generator) -> list[np.ndarray]:
        """White, pink, brown noise and mains hum, each twice the clip length, unit RMS."""
        m = 2 * self.n
        spec = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
        f = np.maximum(np.fft.rfftfreq(m, 1 / self.sample_rate), 20.0)
        beds = [np.fft.irfft(spec * f ** (-a / 2), m) for a in (0.0, 1.0, 2.0)]
        t = np.arange(m) / self.sample_rate
        hz = float(rng.choice([50.0, 60.0]))
        hum = sum(np.sin(2 * np.pi * hz * k * t) / k for k in (1, 2, 3, 5))
        beds.append(hum + 0.05 * beds[0] / np.std(beds[0]))
        return [(b / np.sqrt(np.mean(b**2))).astype(np.float32) for b in beds]

    def noise(self, rng: np.random.Generator) -> np.ndarray:
        """A random slice of a random noise bed (unit RMS), for noise-only negative clips."""
        bed = self.noises[int(rng.integers(len(self.noises)))]
        a = int(rng.integers(0, len(bed) - self.n))
        return bed[a : a + self.n]

    def stem(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Cheap per-stem tone change: a one-pole tilt darker or brighter by a random amount."""
        if rng.random() >= self.cfg.p_stem_eq:
            return x
        a = float(rng.uniform(0.3, 0.95))
        low = _lfilter([1 - a], [1, -a], x).astype(np.float32)
        mix = float(rng.uniform(-0.6, 1.0))  # <0 brighter (subtract lows), >0 darker
        return (x + mix * (low - x)).astype(np.float32)

    def _curve(self, rng: np.random.Generator) -> np.ndarray:
        """A smooth random EQ (dB on a log-frequency grid): a tilt plus three bumps."""
        lg = np.log2(self._grid)
        db = rng.uniform(-1.5, 1.5) * (lg - np.log2(1000.0))
        for _ in range(3):
            c = rng.uniform(np.log2(60), np.log2(12000))
            w = rng.uniform(0.4, 2.0)
            db += rng.uniform(-self.cfg.eq_db, self.cfg.eq_db) * np.exp(-0.5 * ((lg - c) / w) ** 2)
        return np.clip(db, -15, 15)

    def mix(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Room, EQ, band limit, noise, mastering and level for a finished mix."""
        cfg = self.cfg
        eq = rng.random() < cfg.p_eq
        room = rng.random() < cfg.p_reverb
        band = rng.random() < cfg.p_bandlimit
        y = x
        if eq or room or band:
            spec = sfft.rfft(x, self.n_fft)
            h = np.ones(len(self.freqs), np.complex64)
            if eq:
                h *= np.float32(10.0) ** (np.interp(self.freqs, self._grid, self._curve(rng))
                                          .astype(np.float32) / 20)
            if band:
                fc = float(rng.choice([3400.0, 5500.0, 7000.0, 11000.0, 14000.0, 15500.0]))
                order = float(rng.uniform(4, 16))
                h /= 1.0 + (self.freqs / fc) ** order
                if rng.random() < 0.3:
                    hp = float(rng.uniform(80, 350))
                    h /= 1.0 + (hp / np.maximum(self.freqs, 1.0)) ** 4
            if room:
                wet = np.float32(10 ** (rng.uniform(-14, -1) / 20))
                h = h * (1 + wet * self.rooms[int(rng.integers(len(self.rooms)))])
            y = sfft.irfft(spec * h, self.n_fft)[: self.n].astype(np.float32)
        rms = float(np.sqrt(np.mean(y**2))) + 1e-9
        if rng.random() < cfg.p_noise:
            snr = rng.uniform(*cfg.snr_db)
            y = y + self.noise(rng) * np.float32(rms * 10 ** (-snr / 20))
        if rng.random() < cfg.p_compress:
            drive = float(rng.uniform(1.0, 4.0))
            peak = float(np.max(np.abs(y))) + 1e-9
            y = np.tanh(y * (drive / peak)) * np.float32(peak / np.tanh(drive))
        return self.level(y, rng)

    def level(self, y: np.ndarray, rng: np.random.Generator,
              dbfs: tuple[float, float] | None = None) -> np.ndarray:
        """Scale to a random loudness (RMS dBFS) and keep samples inside [-1, 1]."""
        lo, hi = dbfs or self.cfg.level_dbfs
        target = 10 ** (rng.uniform(lo, hi) / 20)
        rms = float(np.sqrt(np.mean(y**2)))
        if rms > 1e-9:
            y = y * np.float32(target / rms)
        return np.clip(y, -1.0, 1.0).astype(np.float32)
