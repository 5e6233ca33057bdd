"""The ``Track`` record shared by the track definitions and the generator."""

from __future__ import annotations

from dataclasses import dataclass, field

from .compose import Chord, Part, voicing
from .midi import Note


@dataclass
class Track:
    """One file of the library: where it goes, how it is tagged, and the parts it contains.

    ``bars`` is the musical length; the file is that plus ``tail_s`` of ring-out, so the last
    chord decays naturally instead of being cut.
    """

    filename: str
    title: str
    artist: str
    genre: str
    bpm: float
    bars: int
    parts: list[Part]
    soundfont: str = "FluidR3_GM.sf2"
    tail_s: float = 2.5
    notes: str = ""
    extra_tags: dict[str, str] = field(default_factory=dict)

    @property
    def sec_per_beat(self) -> float:
        return 60.0 / self.bpm

    @property
    def seconds(self) -> float:
        return round(self.bars * 4 * self.sec_per_beat + self.tail_s, 2)


def final_chord(chord: Chord, bar: int, center: int, beats: float = 3.0, vel: int = 80,
                size: int = 4) -> list[Note]:
    """The held last chord that ends a piece."""
    return [Note(bar * 4, beats, p, vel) for p in voicing(chord, center, size)]


def final_note(pitch: int, bar: int, beats: float = 3.0, vel: int = 85) -> list[Note]:
    """A single held last note (a bass or a lead ending with the band)."""
    return [Note(bar * 4, beats, pitch, vel)]


def with_lyrics(notes: list[Note], words: list[str]) -> list[Note]:
    """Attach words to notes in order, cycling, for parts sung by espeak-ng."""
    return [Note(n.start, n.dur, n.pitch, n.vel, words[i % len(words)])
            for i, n in enumerate(notes)]
