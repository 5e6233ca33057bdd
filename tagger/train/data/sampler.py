"""A sampler: real recorded notes (and drum hits) played as musical phrases.

Why: isolated notes in silence taught a classifier the wrong world (MODEL-NOTES.md), but the
*sound* of a real instrument is in those notes. Played as melodies, chords and grooves, with note
lengths, overlaps, releases and dynamics like a performance, they become music-like stems with
real timbre. Notes are only ever shifted by up to 2 semitones from a recorded pitch, where
resampling keeps the timbre believable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tagger.train.data.audio import CACHE_SR, fade, pitch_shift
from tagger.train.data.content import comping, drum_pattern, melody, progression

_PITCH = re.compile(r"(?<![A-Za-z])([A-Ga-g])([s#b]?)(-?\d)(?!\d)")
_MIDI_PREFIX = re.compile(r"^(\d{2,3})-[A-Ga-g]")
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MAX_SHIFT = 2  # semitones
# Classes whose notes die away on their own (struck or plucked): they ring until the next note.
DECAYING = {"piano", "acoustic_guitar", "electric_guitar", "bass", "drums"}
CHORDAL = {"piano", "organ", "acoustic_guitar", "electric_guitar", "synth"}


def parse_pitch(name: str) -> int | None:
    """MIDI pitch from a sample's file name (``A3``, ``As4``, ``gb4``, ``030-Fs``), else None."""
    m = _MIDI_PREFIX.match(name)
    if m:
        return int(m.group(1))
    found = _PITCH.findall(name)
    if not found:
        return None
    letter, acc, octave = found[-1]
    pc = _PC[letter.lower()] + (1 if acc in ("s", "#") else -1 if acc == "b" else 0)
    return 12 * (int(octave) + 1) + pc


@dataclass
class Sample:
    """One recorded note, trimmed to start at its onset; ``pitch`` None = unknown."""

    audio: np.ndarray  # float32 at CACHE_SR
    pitch: int | None
    name: str = ""


def _pick(samples: list[Sample], want: int, rng: np.random.Generator) -> tuple[Sample, float]:
    """The sample to play for pitch ``want`` and the shift to apply (|shift| <= MAX_SHIFT)."""
    pitched = [s for s in samples if s.pitch is not None]
    if not pitched:
        s = samples[int(rng.integers(len(samples)))]
        return s, float(rng.integers(-MAX_SHIFT, MAX_SHIFT + 1))
    dist = np.array([abs(s.pitch - want) for s in pitched])
    best = np.flatnonzero(dist == dist.min())
    s = pitched[int(rng.choice(best))]
    return s, float(np.clip(want - s.pitch, -MAX_SHIFT, MAX_SHIFT))


def _place(out: np.ndarray, note: np.ndarray, start: int, gain: float) -> None:
    end = min(len(out), start + len(note))
    if end > start >= 0:
        out[start:end] += note[: end - start] * gain


def _voice(sample: Sample, shift: float, length_s: float, decaying: bool,
           rng: np.random.Generator) -> np.ndarray:
    """One played note: shifted, cut to its length with a natural release."""
    x = pitch_shift(sample.audio, shift)
    sample_rate = CACHE_SR
    if decaying:
        n = min(len(x), int((length_s + rng.uniform(0.1, 0.6)) * sample_rate))
        return fade(x[:n], sample_rate, fade_out_s=min(0.3, n / sample_rate / 3))
    n = min(len(x), int(length_s * sample_rate))
    return fade(x[:n], sample_rate, fade_in_s=float(rng.uniform(0.005, 0.04)),
                fade_out_s=min(float(rng.uniform(0.04, 0.15)), n / sample_rate / 2))


def phrase(samples: list[Sample], cls: str, rng: np.random.Generator, *, seconds: float = 20.0
           ) -> np.ndarray:
    """A musical phrase for one instrument from its recorded notes.

    Chordal instruments comp chords or play a line; others play a melody (phrase rests
    included). The register follows the recorded notes, and every note is within
    ``MAX_SHIFT`` semitones of one of them.
    """
    known = [s.pitch for s in samples if s.pitch is not None]
    lo = (min(known) - MAX_SHIFT) if known else 60
    hi = (max(known) + MAX_SHIFT) if known else 72
    if hi - lo < 7:
        lo, hi = lo - 2, hi + 2
    bpm = float(rng.uniform(66, 140))
    bar_s = 4 * 60 / bpm
    bars = max(2, int(seconds / bar_s))
    chords, scale, tonic = progression(rng, bars)
    if cls in CHORDAL and rng.random() < 0.5 and hi - lo >= 12:
        mid = (lo + hi) // 2
        notes = comping(chords, bar_s, rng, lo=max(lo, mid - 10), hi=min(hi, mid + 10))
    else:
        mid = (lo + hi) // 2
        notes = melody(chords, scale, tonic, bar_s, rng, lo=max(lo, mid - 9),
                       hi=min(hi, mid + 9), sustained=cls not in DECAYING)
    if not known:  # unknown pitches: keep only the melody's shape around the recording
        base = notes[0].pitch if notes else 60
        notes = [n.__class__(n.start, n.duration, 60 + int(np.clip(n.pitch - base, -2, 2)),
                             n.velocity) for n in notes]
    out = np.zeros(int((bars * bar_s + 3.0) * CACHE_SR), dtype=np.float32)
    decaying = cls in DECAYING
    for n in notes:
        want = n.pitch if known else 60
        sample, shift = _pick(samples, want, rng)
        if not known:
            shift = float(np.clip(n.pitch - 60, -MAX_SHIFT, MAX_SHIFT))
        v = _voice(sample, shift, n.duration, decaying, rng)
        gain = (n.velocity / 100.0) ** 1.5
        start = int((n.start + rng.normal(0, 0.006)) * CACHE_SR)
        _place(out, v, max(0, start), gain)
    return out


# Kit roles a pattern asks for -> fallbacks when a kit lacks that piece.
_FALLBACK = {"open_hat": ("hat", "ride"), "ride": ("hat", "open_hat"), "hat": ("ride", "open_hat"),
             "crash": ("ride", "open_hat"), "tom_hi": ("tom_mid", "tom_low", "snare"),
             "tom_mid": ("tom_low", "tom_hi", "snare"), "tom_low": ("tom_mid", "tom_hi", "kick")}


def kit_role(name: str) -> str | None:
    """Which pattern role a kit piece named ``name`` plays (None: not used in patterns)."""
    n = name.lower()
    if re.search(r"hat|\bhh|chh|ohh", n):
        return "open_hat" if re.search(r"open|\bop\b|ohh", n) else "hat"
    if re.search(r"kick|\bbd|bass ?drum", n):
        return "kick"
    if re.search(r"crash|splash|china", n):
        return "crash"
    if "ride" in n:
        return "ride"
    if "tom" in n:
        return "tom_low" if re.search(r"low|floor", n) else "tom_hi" if "hi" in n else "tom_mid"
    if re.search(r"snare|\bsd|rim|stick|clap", n):
        return "snare"
    return None


def drum_phrase(kit: dict[str, list[np.ndarray]], rng: np.random.Generator, *,
                seconds: float = 20.0) -> np.ndarray:
    """A groove played on a real kit: ``kit`` maps roles to hits (soft to hard)."""
    bpm = float(rng.uniform(70, 160))
    bar_s = 4 * 60 / bpm
    bars = max(2, int(seconds / bar_s))
    out = np.zeros(int((bars * bar_s + 2.0) * CACHE_SR), dtype=np.float32)
    for t, role, vel in drum_pattern(bars, bar_s, rng):
        hits = kit.get(role)
        for alt in _FALLBACK.get(role, ()):
            hits = hits or kit.get(alt)
        if not hits:
            continue
        layer = min(len(hits) - 1, int(vel / 128 * len(hits)))
        hit = hits[layer]
        _place(out, hit, max(0, int(t * CACHE_SR)), (vel / 110.0) if len(hits) == 1 else 1.0)
    return out
