"""General MIDI -> our classes (the one place this map lives), SoundFonts, and fluidsynth.

Why a hand map: GM programs name instruments, so a rendered part's label is exact once the
program is chosen. Programs that are *like* one of our classes but not clearly it (viola, string
ensembles, electric pianos, recorders) are kept as distractors whose nearby class is *masked*
(label unknown) rather than called absent, so the model is never taught a doubtful "no".

The five SoundFonts come from few independent sample sets (MuseScore General is derived from
FluidR3), so each carries a ``family``; holding out a family is the honest synthetic validation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.audio.decode import decode
from tagger.train.data.audio import CACHE_SR
from tagger.train.data.deps import MissingDependency, require_tool
from tagger.train.data.midi import DRUM_CHANNEL, Part, write_midi

# class -> GM programs (0-based) that clearly are that class.
PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 3),
    "organ": (16, 17, 18, 19, 20),
    "acoustic_guitar": (24, 25),
    "electric_guitar": (26, 27, 28, 29, 30),
    "bass": (32, 33, 34, 35, 36, 37, 43),
    "violin": (40,),
    "cello": (42,),
    "trumpet": (56, 59),
    "saxophone": (64, 65, 66, 67),
    "clarinet": (71,),
    "flute": (72, 73),
    "synth": (80, 81, 82, 84, 87, 88, 89, 90, 91, 94, 95, 50, 62),
    "voice": (52, 53),
}
# Programs that are two of our classes at once.
MULTI: dict[int, tuple[str, ...]] = {38: ("bass", "synth"), 39: ("bass", "synth")}
# Distractors: program -> classes masked while it sounds (empty = a plain "none of ours").
DISTRACTORS: dict[int, tuple[str, ...]] = {
    2: ("piano",), 4: ("piano", "synth"), 5: ("piano", "synth"), 6: ("piano",), 7: ("piano",),
    8: (), 9: (), 10: (), 11: (), 12: (), 13: (), 14: (), 15: (),
    21: ("organ",), 22: (), 23: ("organ",), 31: ("electric_guitar", "acoustic_guitar"),
    41: ("violin",), 44: ("violin", "cello"), 45: ("violin", "cello"), 46: (), 47: ("drums",),
    48: ("violin", "cello"), 49: ("violin", "cello"), 51: ("synth",), 54: ("voice", "synth"),
    57: (), 58: (), 60: (), 61: ("trumpet",), 63: ("synth",), 68: (), 69: (), 70: (),
    74: ("flute",), 75: ("flute",), 77: ("flute",), 78: (), 79: ("flute",),
    104: (), 105: (), 106: (), 107: (), 108: (), 109: (), 111: (),
    112: (), 113: ("drums",), 114: (), 115: ("drums",), 116: ("drums",), 117: ("drums",),
    118: ("drums",),
}
# Drum-kit presets (bank 128) that are a drum kit; 48 (orchestral percussion) is masked instead.
DRUM_KITS: tuple[int, ...] = (0, 8, 16, 24, 25, 32, 40)
MASKED_KITS: dict[int, tuple[str, ...]] = {48: ("drums",)}
# Lowest and highest MIDI pitch that sounds natural per class (used to fit parts by octaves).
RANGES: dict[str, tuple[int, int]] = {
    "piano": (28, 96), "organ": (36, 91), "acoustic_guitar": (40, 81),
    "electric_guitar": (40, 86), "bass": (28, 55), "violin": (55, 96), "cello": (36, 74),
    "trumpet": (55, 82), "saxophone": (49, 80), "clarinet": (50, 89), "flute": (60, 96),
    "synth": (36, 96), "voice": (48, 79), "drums": (35, 81), "": (36, 84),
}


def program_labels(program: int, *, drum: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(classes, masked) for a GM program; drum=True reads ``program`` as a bank-128 kit.

    Programs we neither know nor list (sound effects, orchestra hit) return (), ("*",): the
    caller drops them, because we cannot say what they are.
    """
    if drum:
        if program in DRUM_KITS:
            return ("drums",), ()
        return (), MASKED_KITS.get(program, ("drums",))
    if program in MULTI:
        return MULTI[program], ()
    for cls, progs in PROGRAMS.items():
        if program in progs:
            return (cls,), ()
    if program in DISTRACTORS:
        return (), DISTRACTORS[program]
    return (), ("*",)


@dataclass(frozen=True)
class SoundFont:
    """A SoundFont file we can render with: its name is the stem ``source`` (``sf:NAME``)."""

    name: str
    family: str
    candidates: tuple[str, ...]
    package: str
    licence: str
    drums_only: bool = False  # AVL kits: one kit preset at bank 0, program 0

    @property
    def source(self) -> str:
        return f"sf:{self.name}"

    def path(self) -> str | None:
        for c in self.candidates:
            if os.path.exists(c):
                return c
        return None


SOUNDFONTS: tuple[SoundFont, ...] = (
    SoundFont("fluid", "sf-fluid", ("/usr/share/sounds/sf2/FluidR3_GM.sf2",),
              "fluid-soundfont-gm", "MIT (FluidR3_GM, Frank Wen)"),
    SoundFont("musescore", "sf-fluid", ("/usr/share/sounds/sf3/MuseScore_General.sf3",
                                        "/usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
              "musescore-general-soundfont", "MIT (MuseScore General, derived from FluidR3)"),
    SoundFont("timgm", "sf-timgm", ("/usr/share/sounds/sf2/TimGM6mb.sf2",),
              "timgm6mb-soundfont", "GPL-2 (TimGM6mb, Tim Brechbill)"),
    SoundFont("avl-blackpearl", "sf-avl", ("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",),
              "avldrums.lv2-soundfont", "GPL-2+ (AVL Drumkits, Glen MacArthur)", drums_only=True),
    SoundFont("avl-redzeppelin", "sf-avl", ("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",),
              "avldrums.lv2-soundfont", "GPL-2+ (AVL Drumkits, Glen MacArthur)", drums_only=True),
)


def available_soundfonts(names: tuple[str, ...] | None = None) -> list[SoundFont]:
    """The SoundFonts installed (optionally only ``names``); raises if none of them is.

    The error names the Debian packages to install, because a missing file is the usual cause.
    """
    wanted = [s for s in SOUNDFONTS if names is None or s.name in names]
    found = [s for s in wanted if s.path()]
    if not found:
        pkgs = sorted({s.package for s in wanted})
        raise MissingDependency(
            f"no SoundFont found (looked for {', '.join(s.name for s in wanted)}); install the "
            f"Debian package(s) {', '.join(pkgs)}: scripts/install-system-packages.sh "
            "scripts/system-packages-train.txt")
    return found


def missing_soundfonts() -> list[SoundFont]:
    return [s for s in SOUNDFONTS if not s.path()]


def render_parts(font: SoundFont, parts: list[Part], *, sample_rate: int = CACHE_SR,
                 tail_s: float = 2.0) -> list[np.ndarray]:
    """Render each part alone with ``font``; returns mono float32 audio per part.

    All parts go into one MIDI file, back to back with ``tail_s`` of silence for release tails,
    so the SoundFont is loaded once (MuseScore General takes seconds to load). Reverb and chorus
    are off: stems stay dry, and the mixer adds room sound as augmentation. Each stem starts at
    its part's time 0, so parts of one song stay aligned.
    """
    require_tool("fluidsynth", "fluidsynth")
    path = font.path()
    if path is None:
        raise MissingDependency(f"SoundFont {font.name} not found; install the Debian package "
                                f"{font.package}")
    placed, offset = [], 1.0
    spans = []
    for p in parts:
        if font.drums_only:
            p = Part(p.notes, program=0, channel=0, bank=0)
        elif p.bank == 128:
            p = Part(p.notes, program=p.program, channel=DRUM_CHANNEL, bank=128)
        else:
            p = Part(p.notes, program=p.program, channel=0, bank=p.bank)
        length = p.end + tail_s
        placed.append((offset, p))
        spans.append((offset, length))
        offset += length + 0.5
    with tempfile.TemporaryDirectory(prefix="tagger-render-") as tmp:
        mid, wav = Path(tmp) / "parts.mid", Path(tmp) / "out.wav"
        mid.write_bytes(write_midi(placed))
        cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.4",
               "-o", "synth.dynamic-sample-loading=1", "-o", "synth.polyphony=512",
               "-O", "float", "-T", "wav", "-F", str(wav), "-r", str(sample_rate), path, str(mid)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if run.returncode != 0 or not wav.exists():
            raise RuntimeError(f"fluidsynth failed on {font.name}: {run.stderr.strip()[:300]}")
        mono = decode(wav, sample_rate=sample_rate)
    out = []
    for start, length in spans:
        a = int(round(start * sample_rate))
        out.append(np.array(mono[a : a + int(round(length * sample_rate))], dtype=np.float32))
    return out


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None
