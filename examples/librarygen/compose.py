"""Note-content generators: chords, comping, bass lines, melodies and drum grooves.

The pieces are simple but idiomatic (walking bass under a swung sax, power chords over a rock
beat) because the library is what a new user hears first, and a tagger should be shown music
that resembles what it will meet, not test tones. Everything takes a seeded ``Random`` so the
library is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .midi import Note

QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "sus4": (0, 5, 7),
    "5": (0, 7),
}
PC = {"C": 0, "C#": 1, "Db": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6, "G": 7,
      "Ab": 8, "A": 9, "Bb": 10, "B": 11}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
MIXO = (0, 2, 4, 5, 7, 9, 10)
BLUES = (0, 3, 5, 6, 7, 10)

# General MIDI percussion keys (channel 10).
KICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, TOM_HI, TOM_LO, SIDE = (
    36, 38, 39, 42, 44, 46, 49, 51, 48, 45, 37)


@dataclass(frozen=True)
class Chord:
    """A chord symbol: root pitch class and a quality from ``QUALITIES``."""

    root: int
    quality: str

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in QUALITIES[self.quality])


def chords(symbols: str) -> list[Chord]:
    """Parse ``"F7 Bb7 Gm7"`` style symbols (root, then quality; bare root = major)."""
    out = []
    for sym in symbols.split():
        root = sym[:2] if len(sym) > 1 and sym[1] in "#b" else sym[:1]
        rest = sym[len(root):]
        quality = {"": "maj", "m": "min"}.get(rest, rest)
        out.append(Chord(PC[root], quality))
    return out


@dataclass
class Part:
    """One instrument line: its class for the ground truth, how to render it, and its notes.

    Notes are stored per role ("foreground" = the lead, "background" = accompaniment) so the
    truth written to ANSWERS.json says not only when an instrument plays but when it leads.
    """

    name: str
    instrument: str
    program: int
    channel: int = 0
    bank: int = 0
    gain_db: float = -6.0
    pan: int = 64
    reverb: int = 40
    chorus: int = 0
    voice: str | None = None  # espeak-ng voice; set for parts sung by espeak instead of MIDI
    notes: dict[str, list[Note]] = field(default_factory=dict)

    def add(self, notes: list[Note], role: str = "background") -> "Part":
        self.notes.setdefault(role, []).extend(notes)
        return self

    def all_notes(self) -> list[Note]:
        return sorted((n for ns in self.notes.values() for n in ns), key=lambda n: n.start)


def near(pc: int, center: int) -> int:
    """The MIDI pitch with pitch class ``pc`` closest to ``center``."""
    return center + ((pc - center + 6) % 12) - 6


def voicing(chord: Chord, center: int, size: int = 4) -> list[int]:
    """A close voicing around ``center``; sevenths and thirds first, as a pianist would."""
    pcs = list(chord.pcs)
    order = pcs[1:] + pcs[:1] if len(pcs) > 3 else pcs
    notes = sorted({near(pc, center) for pc in order[:size]})
    return notes


def humanize(notes: list[Note], rng: random.Random, t: float = 0.015, v: int = 8) -> list[Note]:
    """Small random timing and velocity changes, so parts do not sound machine-quantised."""
    return [Note(max(0.0, n.start + rng.uniform(-t, t)), n.dur, n.pitch,
                 n.vel + rng.randint(-v, v), n.lyric) for n in notes]


def comp(prog: list[Chord], start_bar: int, bars: int, rhythm: list[tuple[float, float]],
         center: int, vel: int = 70, beats_per_chord: int = 4, size: int = 4) -> list[Note]:
    """Block chords on a rhythm of (beat offset, duration) repeated every bar."""
    out = []
    for bar in range(start_bar, start_bar + bars):
        for off, dur in rhythm:
            beat = bar * 4 + off
            chord = prog[int(beat // beats_per_chord) % len(prog)]
            out += [Note(beat, dur, p, vel) for p in voicing(chord, center, size)]
    return out


def arpeggio(prog: list[Chord], start_bar: int, bars: int, pattern: list[int], step: float,
             low: int, vel: int = 70, beats_per_chord: int = 4, ring: float = 1.0) -> list[Note]:
    """Broken chords (guitar fingerpicking, piano left hand); ``pattern`` indexes chord tones."""
    out = []
    per_bar = int(round(4 / step))
    for bar in range(start_bar, start_bar + bars):
        for i in range(per_bar):
            beat = bar * 4 + i * step
            chord = prog[int(beat // beats_per_chord) % len(prog)]
            tones = [near(pc, low + 6) for pc in chord.pcs]
            tones = sorted(tones) + [t + 12 for t in sorted(tones)]
            tones[0] = near(chord.root, low + 3)
            p = tones[pattern[i % len(pattern)] % len(tones)]
            out.append(Note(beat, step * ring, p, vel + (8 if i == 0 else 0)))
    return out


def walking_bass(prog: list[Chord], start_bar: int, bars: int, rng: random.Random,
                 beats_per_chord: int = 4, vel: int = 88) -> list[Note]:
    """Quarter-note jazz walking line: root on the downbeat, a chromatic approach at the end."""
    out = []
    pitch = near(prog[0].root, 36)
    for bar in range(start_bar, start_bar + bars):
        for beat_i in range(4):
            beat = bar * 4 + beat_i
            chord = prog[int(beat // beats_per_chord) % len(prog)]
            nxt = prog[int((beat + 1) // beats_per_chord) % len(prog)]
            if beat % beats_per_chord == 0:
                pitch = near(chord.root, 36)
            elif (beat + 1) % beats_per_chord == 0:
                target = near(nxt.root, pitch)
                pitch = target + rng.choice((-1, 1))
            else:
                pitch = near(rng.choice(chord.pcs), pitch + rng.choice((-3, 3)))
            pitch = min(max(pitch, 28), 50)
            out.append(Note(beat, 0.9, pitch, vel + (6 if beat_i == 0 else 0)))
    return out


def root_bass(prog: list[Chord], start_bar: int, bars: int, rhythm: list[tuple[float, float]],
              low: int = 40, vel: int = 92, beats_per_chord: int = 4, fifths: bool = False
              ) -> list[Note]:
    """Rock/pop bass: the chord root on a rhythm, optionally alternating with the fifth."""
    out = []
    for bar in range(start_bar, start_bar + bars):
        for i, (off, dur) in enumerate(rhythm):
            beat = bar * 4 + off
            chord = prog[int(beat // beats_per_chord) % len(prog)]
            p = near(chord.root, low + 4)
            if fifths and i % 2 == 1:
                p = p + 7
            out.append(Note(beat, dur, p, vel))
    return out


RHYTHMS_STRAIGHT = [
    [(0, 1), (1, 1), (2, 2)], [(0, 1.5), (1.5, 0.5), (2, 1), (3, 1)],
    [(0, 0.5), (0.5, 0.5), (1, 1), (2, 1.5), (3.5, 0.5)], [(0, 2), (2, 1), (3, 1)],
    [(0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 2)], [(0, 1), (1.5, 0.5), (2, 0.5), (2.5, 1.5)],
]
RHYTHMS_SLOW = [[(0, 2), (2, 2)], [(0, 3), (3, 1)], [(0, 1), (1, 1), (2, 2)], [(0, 4)],
                [(0, 1.5), (1.5, 0.5), (2, 2)]]
CADENCE = [[(0, 3)], [(0, 1), (1, 2)], [(0, 2)]]


def melody(prog: list[Chord], start_bar: int, bars: int, rng: random.Random, scale: tuple[int, ...],
           key: int, low: int, high: int, *, rhythms: list[list[tuple[float, float]]] | None = None,
           phrase_bars: int = 4, beats_per_chord: int = 4, vel: int = 92, swing: bool = False,
           legato: float = 0.95) -> list[Note]:
    """A phrase-shaped random-walk melody.

    Strong beats prefer chord tones and small steps, phrases end on a long note followed by a
    rest (where a player breathes): that is what makes the line read as a melody, and what
    gives the ground truth its realistic short gaps.
    """
    rhythms = rhythms or RHYTHMS_STRAIGHT
    pool = [p for p in range(low, high + 1) if (p - key) % 12 in scale]
    pitch = pool[len(pool) // 2]
    out = []
    for bar in range(start_bar, start_bar + bars):
        last_in_phrase = (bar - start_bar) % phrase_bars == phrase_bars - 1
        rhythm = rng.choice(CADENCE if last_in_phrase else rhythms)
        for off, dur in rhythm:
            beat = bar * 4 + off
            if swing and off % 1 == 0.5:
                beat += 1 / 6
            chord = prog[int(beat // beats_per_chord) % len(prog)]
            strong = off % 1 == 0
            weights = []
            for p in pool:
                w = 1.0 / (1 + abs(p - pitch)) ** 1.6
                if p % 12 in chord.pcs:
                    w *= 4.0 if strong else 1.5
                if p == pitch:
                    w *= 0.3
                weights.append(w)
            pitch = rng.choices(pool, weights)[0]
            out.append(Note(beat, dur * legato, pitch, vel + (6 if strong else 0)))
    return out


def drums(style: str, start_bar: int, bars: int, rng: random.Random, *, fill_every: int = 4,
          crash_first: bool = True, vel: int = 95) -> list[Note]:
    """A drum-kit groove for channel 10: ``rock``, ``pop``, ``swing``, ``funk`` or ``ballad``.

    A fill on the last bar of every ``fill_every`` bars and a crash on the first beat mark the
    sections, as a drummer would.
    """
    grooves: dict[str, list[tuple[int, float, int]]] = {
        "rock": [(KICK, 0, 0), (KICK, 2.5, -5), (KICK, 2, 0), (SNARE, 1, 0), (SNARE, 3, 0)]
        + [(HAT, i / 2, -20 - 10 * (i % 2)) for i in range(8)],
        "pop": [(KICK, float(i), 0) for i in range(4)] + [(CLAP, 1, -5), (CLAP, 3, -5)]
        + [(HAT, i / 2, -35) for i in range(8)] + [(OPEN_HAT, i + 0.5, -30) for i in range(4)],
        "swing": [(RIDE, b, -25) for b in (0, 1, 1 + 2 / 3, 2, 3, 3 + 2 / 3)]
        + [(PEDAL_HAT, 1, -30), (PEDAL_HAT, 3, -30), (KICK, 0, -45)],
        "funk": [(KICK, 0, 0), (KICK, 0.75, -10), (KICK, 2.5, -5), (SNARE, 1, 0), (SNARE, 3, 0)]
        + [(HAT, i / 4, -25 - 15 * (i % 2)) for i in range(16)],
        "ballad": [(KICK, 0, -10), (KICK, 2.5, -20), (SIDE, 1, -20), (SIDE, 3, -20)]
        + [(HAT, i / 2, -40) for i in range(8)],
    }
    out = []
    for bar in range(start_bar, start_bar + bars):
        t0 = bar * 4
        is_fill = fill_every and (bar - start_bar) % fill_every == fill_every - 1
        for key, off, dv in grooves[style]:
            if is_fill and off >= 2 and key not in (KICK, RIDE):
                continue
            out.append(Note(t0 + off, 0.25, key, vel + dv))
        if style == "swing":
            for b in (1.667, 2.667, 3.667):
                if rng.random() < 0.3:
                    out.append(Note(t0 + b, 0.2, SNARE, 45))
        if is_fill:
            toms = [SNARE, SNARE, TOM_HI, TOM_HI, TOM_LO, TOM_LO, SNARE, SNARE]
            soft = style in ("swing", "ballad")
            for i, key in enumerate(toms):
                out.append(Note(t0 + 2 + i / 4, 0.25, key, (70 if soft else 90) + 3 * i))
        if crash_first and bar == start_bar:
            out.append(Note(t0, 1.0, CRASH, vel))
    return humanize(out, rng, t=0.01, v=6)


def spans(notes: list[Note], sec_per_beat: float, gap_s: float = 1.5) -> list[list[float]]:
    """Merge note intervals (in seconds) separated by less than ``gap_s`` into spans.

    1.5 s bridges a player's breath or a bar of rest but splits real entries and exits, which
    is the resolution a segment-level tagger can be fairly judged at.
    """
    ivs = sorted((n.start * sec_per_beat, n.end * sec_per_beat) for n in notes)
    out: list[list[float]] = []
    for s, e in ivs:
        if out and s - out[-1][1] < gap_s:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [[round(s, 2), round(e, 2)] for s, e in out]
