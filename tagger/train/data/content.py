"""Note content: songs as parts of notes, from simple music theory and random choices.

Why generate music at all when music21 and mma exist: generated songs need no extra package, so
tests and ``--quick`` builds always have content; and the same melody and drum-pattern code
drives the real-sample sampler (phrases built from recorded notes) and the Hydrogen drum kits.
Everything is seeded by the caller's ``rng`` so a recipe renders the same song every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tagger.train.data.midi import Note

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# chord quality -> intervals above the root
QUALITIES: dict[str, tuple[int, ...]] = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10),
                                         "m7": (0, 3, 7, 10), "maj7": (0, 4, 7, 11)}
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# Progressions as (scale degree 0-6, quality) per bar, major then minor keys.
PROGRESSIONS_MAJOR = (
    ((0, ""), (5, "m"), (3, ""), (4, "")), ((0, ""), (4, ""), (5, "m"), (3, "")),
    ((1, "m7"), (4, "7"), (0, "maj7"), (0, "maj7")), ((0, ""), (3, ""), (0, ""), (4, "7")),
    ((0, ""), (0, ""), (3, ""), (3, ""), (0, ""), (4, ""), (0, ""), (4, "7")),
    ((0, "maj7"), (5, "m7"), (1, "m7"), (4, "7")),
)
PROGRESSIONS_MINOR = (
    ((0, "m"), (5, ""), (2, ""), (6, "")), ((0, "m"), (3, "m"), (4, "7"), (0, "m")),
    ((0, "m7"), (3, "m7"), (0, "m7"), (4, "7")), ((0, "m"), (6, ""), (5, ""), (4, "7")),
)
# GM drum notes by role, used by generated patterns and mapped to kit pieces by samplers.
DRUM_NOTES = {"kick": 36, "snare": 38, "hat": 42, "open_hat": 46, "ride": 51, "crash": 49,
              "tom_hi": 50, "tom_mid": 47, "tom_low": 45}


@dataclass
class Chord:
    root: int  # pitch class 0-11
    quality: str

    @property
    def pcs(self) -> list[int]:
        return [(self.root + i) % 12 for i in QUALITIES[self.quality]]

    @property
    def name(self) -> str:
        return NOTE_NAMES[self.root] + self.quality


@dataclass
class SongPart:
    """One part of a song; ``role`` is lead | accomp | bass | drums."""

    notes: list[Note]
    role: str
    name: str = ""
    program: int | None = None  # the program the content came with (mma), if any
    drum: bool = False


@dataclass
class Song:
    """Parts on one timeline; ``id`` is stable for a recipe so renders can be cached."""

    id: str
    parts: list[SongPart]
    origin: str
    licence: str
    chords: list[Chord] = field(default_factory=list)
    bar_s: float = 2.0

    @property
    def seconds(self) -> float:
        return max((n.start + n.duration for p in self.parts for n in p.notes), default=0.0)


def progression(rng: np.random.Generator, bars: int) -> tuple[list[Chord], tuple[int, ...], int]:
    """A chord per bar in a random key; returns (chords, scale, tonic pitch class)."""
    minor = rng.random() < 0.35
    scale = MINOR if minor else MAJOR
    bank = PROGRESSIONS_MINOR if minor else PROGRESSIONS_MAJOR
    prog = bank[rng.integers(len(bank))]
    tonic = int(rng.integers(12))
    chords = [Chord((tonic + scale[deg]) % 12, q) for deg, q in prog]
    return [chords[i % len(chords)] for i in range(bars)], scale, tonic


def fit_range(pitch: int, lo: int, hi: int) -> int:
    """Move ``pitch`` by octaves into [lo, hi] (clamped to the nearest end if it cannot fit)."""
    while pitch < lo:
        pitch += 12
    while pitch > hi:
        pitch -= 12
    return max(lo, min(hi, pitch))


def melody(chords: list[Chord], scale: tuple[int, ...], tonic: int, bar_s: float,
           rng: np.random.Generator, *, lo: int = 60, hi: int = 84, sustained: bool = True,
           rest_prob: float = 0.25) -> list[Note]:
    """A singable line over ``chords``: chord tones on beats, scale steps between, phrase rests.

    Phrases of two bars with a rest between them, so a lead really pauses (windows without it
    must be labelled absent) instead of playing wall to wall.
    """
    beat = bar_s / 4
    pcs_scale = [(tonic + s) % 12 for s in scale]
    pitch = fit_range(tonic + 60, lo, hi)
    notes: list[Note] = []
    for bar, chord in enumerate(chords):
        if bar % 2 == 1 and rng.random() < rest_prob:
            continue  # a breath between phrases
        t = bar * bar_s
        end = t + bar_s
        while t < end - 1e-6:
            dur = float(rng.choice([0.5, 1, 1, 1, 2, 0.5, 1.5])) * beat
            dur = min(dur, end - t)
            on_beat = abs((t / beat) - round(t / beat)) < 1e-6
            pool = chord.pcs if on_beat else pcs_scale
            step = int(rng.choice([-4, -2, -1, 0, 1, 2, 3, 5]))
            target = pitch + step
            cands = [p for p in range(target - 3, target + 4) if p % 12 in pool and lo <= p <= hi]
            pitch = int(rng.choice(cands)) if cands else fit_range(target, lo, hi)
            length = dur * (0.95 if sustained else float(rng.uniform(0.4, 0.9)))
            vel = int(np.clip(rng.normal(88 if on_beat else 78, 10), 40, 120))
            if rng.random() > 0.08:
                notes.append(Note(t, length, pitch, vel))
            t += dur
    return notes


def bass_line(chords: list[Chord], bar_s: float, rng: np.random.Generator, *,
              lo: int = 28, hi: int = 52) -> list[Note]:
    """Roots and fifths on a random rhythm per song (whole, half, quarter or walking notes)."""
    style = rng.choice(["whole", "half", "quarter", "walk", "eighths"])
    per_bar = {"whole": 1, "half": 2, "quarter": 4, "walk": 4, "eighths": 8}[str(style)]
    step = bar_s / per_bar
    notes = []
    for bar, chord in enumerate(chords):
        for k in range(per_bar):
            if style == "walk":
                pc = chord.pcs[k % len(chord.pcs)] if k < 3 else (chord.root + 11) % 12
            else:
                pc = chord.root if k % 2 == 0 or rng.random() < 0.6 else chord.pcs[2 % len(
                    chord.pcs)]
            pitch = fit_range(36 + pc, lo, hi)
            notes.append(Note(bar * bar_s + k * step, step * 0.9, pitch,
                              int(np.clip(rng.normal(95, 8), 50, 120))))
    return notes


def comping(chords: list[Chord], bar_s: float, rng: np.random.Generator, *, lo: int = 48,
            hi: int = 76) -> list[Note]:
    """Chords as blocks, stabs or arpeggios (the accompaniment of a piano, guitar or pad)."""
    style = str(rng.choice(["block", "stabs", "arp", "pad"]))
    notes = []
    for bar, chord in enumerate(chords):
        voicing = sorted(fit_range(48 + pc, lo, hi) for pc in chord.pcs)
        t0 = bar * bar_s
        if style == "pad":
            notes += [Note(t0, bar_s * 0.98, p, 70) for p in voicing]
        elif style == "block":
            for h in range(2):
                notes += [Note(t0 + h * bar_s / 2, bar_s / 2 * 0.9, p, 80) for p in voicing]
        elif style == "stabs":
            for k in range(8):
                if k % 2 == 1 or rng.random() < 0.3:
                    notes += [Note(t0 + k * bar_s / 8, bar_s / 8 * 0.7, p, 85) for p in voicing]
        else:
            seq = voicing + voicing[-2:0:-1]
            for k in range(8):
                notes.append(Note(t0 + k * bar_s / 8, bar_s / 8 * 1.5, seq[k % len(seq)], 75))
    return notes


def drum_pattern(bars: int, bar_s: float, rng: np.random.Generator, style: str | None = None
                 ) -> list[tuple[float, str, int]]:
    """(time_s, kit role, velocity) hits for ``bars`` of a groove with fills every 4 bars."""
    style = style or str(rng.choice(["rock", "funk", "shuffle", "halftime", "disco", "ride"]))
    grid = 12 if style == "shuffle" else 16
    step = bar_s / grid
    hits: list[tuple[float, str, int]] = []
    kick_extra = rng.random(grid) < 0.15
    for bar in range(bars):
        t0 = bar * bar_s
        fill = bar % 4 == 3 and rng.random() < 0.5
        for k in range(grid):
            t = t0 + k * step + float(rng.normal(0, 0.004))
            beat_pos = k / (grid / 4)
            vel = lambda m: int(np.clip(rng.normal(m, 8), 30, 127))  # noqa: E731
            if fill and k >= grid // 2:
                if k % (grid // 8) == 0:
                    hits.append((t, str(rng.choice(["snare", "tom_hi", "tom_mid", "tom_low"])),
                                 vel(100)))
                continue
            if style in ("rock", "halftime", "shuffle", "ride"):
                if k in (0, grid // 2) if style != "halftime" else k == 0:
                    hits.append((t, "kick", vel(105)))
                snare_at = (grid // 2,) if style == "halftime" else (grid // 4, 3 * grid // 4)
                if k in snare_at:
                    hits.append((t, "snare", vel(105)))
            elif style == "funk":
                if k in (0, 10) or kick_extra[k]:
                    hits.append((t, "kick", vel(100)))
                if k in (4, 12):
                    hits.append((t, "snare", vel(108)))
                elif k in (7, 9) and rng.random() < 0.4:
                    hits.append((t, "snare", vel(55)))  # ghost notes
            elif style == "disco":
                if k % 4 == 0:
                    hits.append((t, "kick", vel(105)))
                if k in (4, 12):
                    hits.append((t, "snare", vel(100)))
            cymbal = "ride" if style == "ride" else "hat"
            if style == "shuffle":
                if k % 3 != 1:
                    hits.append((t, cymbal, vel(80 if k % 3 == 0 else 60)))
            elif style == "funk":
                hits.append((t, cymbal, vel(85 if k % 2 == 0 else 60)))
            elif style == "disco" and k % 4 == 2:
                hits.append((t, "open_hat", vel(85)))
            elif k % 2 == 0:
                hits.append((t, cymbal, vel(85 if beat_pos % 1 == 0 else 65)))
        if bar % 8 == 0:
            hits.append((t0, "crash", int(np.clip(rng.normal(100, 8), 60, 127))))
    return sorted(hits)


def drum_notes(hits: list[tuple[float, str, int]]) -> list[Note]:
    """GM drum notes for pattern hits (channel 10 content)."""
    return [Note(max(0.0, t), 0.2, DRUM_NOTES[role], v) for t, role, v in hits]


def generated_song(rng: np.random.Generator, song_id: str, *, bars: int = 16,
                   drums: bool | None = None) -> Song:
    """Lead, comping, bass and (usually) drums over a random progression at a random tempo."""
    bpm = float(rng.uniform(70, 150))
    bar_s = 4 * 60.0 / bpm
    chords, scale, tonic = progression(rng, bars)
    parts = [SongPart(melody(chords, scale, tonic, bar_s, rng), "lead", "melody"),
             SongPart(comping(chords, bar_s, rng), "accomp", "comping"),
             SongPart(bass_line(chords, bar_s, rng), "bass", "bass")]
    if drums if drums is not None else rng.random() < 0.8:
        parts.append(SongPart(drum_notes(drum_pattern(bars, bar_s, rng)), "drums", "drums",
                              drum=True))
    return Song(song_id, parts, origin="generated", licence="generated by tagger (MIT)",
                chords=chords, bar_s=bar_s)
