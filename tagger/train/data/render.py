"""Songs -> stems: choose an instrument per part, render each part alone through a SoundFont.

Why per-part random instruments and fonts: the label must follow the instrument, never the song
or the SoundFont. So a Bach soprano line may be a saxophone in one render and a flute in the
next, and the parts of one song come from different SoundFonts: no font or piece predicts a
class. Some parts become distractors (oboe, horn, marimba...) so the model hears instruments it
must *not* name inside real-sounding music.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagger.train.data.content import Song, fit_range
from tagger.train.data.gm import (
    DRUM_KITS,
    PROGRAMS,
    RANGES,
    SoundFont,
    program_labels,
    render_parts,
)
from tagger.train.data.midi import Note, Part
from tagger.train.data.stems import Stem, make_stem

LEAD_CLASSES = ("violin", "flute", "clarinet", "saxophone", "trumpet", "voice", "electric_guitar",
                "synth", "piano", "organ", "acoustic_guitar", "cello")
ACCOMP_CLASSES = ("piano", "organ", "acoustic_guitar", "electric_guitar", "synth", "violin",
                  "cello", "clarinet", "saxophone", "flute", "voice", "trumpet")
BASS_CHOICES = (("bass", 0.72), ("cello", 0.12), ("piano", 0.06), ("organ", 0.05),
                ("synth", 0.05))
# Distractor programs by register: clear "none of ours" plus near misses (masked in gm.py).
DISTRACTOR_HIGH = (68, 69, 60, 57, 46, 11, 12, 13, 6, 21, 41, 48, 74, 22, 105, 109)
DISTRACTOR_LOW = (70, 58, 57, 47, 43, 32)  # bassoon, tuba, trombone, timpani (+ basses: real)
P_DISTRACTOR = 0.12
VOCAL_NAMES = ("soprano", "alto", "tenor", "bass", "canto", "quinto", "cantus", "altus",
               "bassus", "voice", "sopran")


@dataclass
class Assigned:
    """One part of one song with its chosen program, font and labels."""

    song: Song
    index: int
    program: int
    drum: bool
    font: SoundFont
    notes: list[Note]
    classes: tuple[str, ...]
    masked: tuple[str, ...]


def _fit_notes(notes: list[Note], cls: str) -> list[Note]:
    """Transpose a part by whole octaves so its median pitch sits inside the class's range."""
    lo, hi = RANGES.get(cls, RANGES[""])
    med = int(np.median([n.pitch for n in notes]))
    shift = fit_range(med, lo + 5, hi - 5) - med
    shift = 12 * round(shift / 12)
    return [Note(n.start, n.duration, fit_range(n.pitch + shift, lo, hi), n.velocity)
            for n in notes]


def _pick_program(role: str, part_program: int | None, vocal: bool, rng: np.random.Generator
                  ) -> int:
    if part_program is not None and rng.random() < 0.5:
        return part_program  # mma's idiomatic choice
    if rng.random() < P_DISTRACTOR:
        pool = DISTRACTOR_LOW if role == "bass" else DISTRACTOR_HIGH
        return int(rng.choice(pool))
    if vocal:
        return int(rng.choice(PROGRAMS["voice"]))
    if role == "bass":
        names, probs = zip(*BASS_CHOICES)
        cls = str(rng.choice(names, p=np.array(probs) / sum(probs)))
    else:
        cls = str(rng.choice(LEAD_CLASSES if role == "lead" else ACCOMP_CLASSES))
    return int(rng.choice(PROGRAMS[cls]))


def assign(song: Song, fonts: list[SoundFont], rng: np.random.Generator) -> list[Assigned]:
    """Pick program, font and labels for every part of ``song``.

    A vocal score (parts named Soprano, Alto... ) is sung by the SoundFonts' choirs half the
    time, a source of voice that is scarce otherwise. Parts whose program we cannot label
    (sound effects) are dropped.
    """
    melodic = [f for f in fonts if not f.drums_only]
    if not melodic:
        return []
    vocal_score = sum(any(v in p.name.lower() for v in VOCAL_NAMES) for p in song.parts) >= 2
    sing = vocal_score and rng.random() < 0.5
    out = []
    for i, part in enumerate(song.parts):
        if not part.notes:
            continue
        if part.drum:
            font = fonts[int(rng.integers(len(fonts)))]
            program = int(rng.choice(DRUM_KITS[:3] if rng.random() < 0.7 else DRUM_KITS))
            classes, masked = program_labels(program, drum=True)
            out.append(Assigned(song, i, program, True, font, part.notes, classes, masked))
            continue
        font = melodic[int(rng.integers(len(melodic)))]
        program = _pick_program(part.role, part.program, sing, rng)
        classes, masked = program_labels(program)
        if masked == ("*",):
            continue
        key = classes[0] if classes else ""
        scale = float(rng.uniform(0.75, 1.1))
        notes = [Note(n.start, n.duration, n.pitch, int(np.clip(n.velocity * scale, 20, 127)))
                 for n in _fit_notes(part.notes, key)]
        out.append(Assigned(song, i, program, False, font, notes, classes, masked))
    return out


def render_songs(songs: list[Song], fonts: list[SoundFont], rng: np.random.Generator
                 ) -> list[Stem]:
    """Render every part of ``songs`` to its own stem; one fluidsynth run per SoundFont."""
    assigned = [a for s in songs for a in assign(s, fonts, rng)]
    stems: list[Stem] = []
    for font in fonts:
        mine = [a for a in assigned if a.font is font]
        if not mine:
            continue
        parts = [Part(a.notes, program=a.program, bank=128 if a.drum else 0) for a in mine]
        audios = render_parts(font, parts)
        for a, audio in zip(mine, audios):
            if float(np.max(np.abs(audio), initial=0.0)) < 1e-5:
                continue  # a preset missing from this font renders silence: no stem
            part = a.song.parts[a.index]
            kind = "kit" if a.drum else "program"
            stems.append(make_stem(
                audio, classes=a.classes, masked=a.masked, source=font.source,
                family=font.family, group=a.song.id, role=part.role,
                licence=f"{font.licence}; notes: {a.song.licence}",
                origin=f"{a.song.origin} / {part.name or part.role} / {kind} {a.program}"))
    return stems
