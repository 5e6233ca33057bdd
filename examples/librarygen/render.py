"""Turn parts into audio: fluidsynth stems, espeak-ng vocals, a numpy mix, ffmpeg encodes.

Every external tool is called through ``subprocess`` and checked up front by ``require``, so a
missing Debian package fails with its name instead of a confusing traceback halfway through.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .compose import Part
from .midi import DRUM_CHANNEL, Note, write_midi

SR = 44100
SF2_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
SOUNDFONTS = {"FluidR3_GM.sf2": "fluid-soundfont-gm", "TimGM6mb.sf2": "timgm6mb-soundfont"}
TOOLS = {"fluidsynth": "fluidsynth", "ffmpeg": "ffmpeg", "espeak-ng": "espeak-ng"}
INSTALL_HINT = "scripts/install-system-packages.sh scripts/system-packages-examples.txt"


class MissingToolError(RuntimeError):
    """A program or SoundFont the generator needs is not installed; names the Debian package."""


def require(tools: set[str], soundfonts: set[str]) -> dict[str, Path]:
    """Check programs and SoundFonts exist; return SoundFont name -> path."""
    for tool in sorted(tools):
        if shutil.which(tool) is None:
            raise MissingToolError(
                f"'{tool}' not found: install the Debian package '{TOOLS[tool]}' "
                f"(apt-get install {TOOLS[tool]}, or {INSTALL_HINT})")
    found = {}
    for name in sorted(soundfonts):
        hits = [d / name for d in SF2_DIRS if (d / name).is_file()]
        if not hits:
            raise MissingToolError(
                f"SoundFont {name} not found in {', '.join(map(str, SF2_DIRS))}: install the "
                f"Debian package '{SOUNDFONTS[name]}' (apt-get install {SOUNDFONTS[name]}, "
                f"or {INSTALL_HINT})")
        found[name] = hits[0]
    return found


def render_midi_part(part: Part, bpm: float, sf2: Path, work: Path) -> np.ndarray:
    """Render one MIDI part with fluidsynth to a stereo float array at ``SR``."""
    mid = write_midi(work / f"{part.name}.mid", part.all_notes(), bpm=bpm, program=part.program,
                     channel=part.channel, bank=part.bank, pan=part.pan, reverb=part.reverb,
                     chorus=part.chorus)
    wav = work / f"{part.name}.wav"
    # Float output: loud patches (saw leads) would clip in fluidsynth's default 16-bit file.
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(SR), "-T", "wav", "-O", "float",
           "-F", str(wav), str(sf2), str(mid)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    data, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == SR, (wav, sr)
    return data


def espeak_word(word: str, voice: str, pitch: int, speed: int, work: Path) -> np.ndarray:
    """One word from espeak-ng, silence trimmed, resampled to ``SR`` (mono)."""
    wav = work / "word.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", "100",
                    "-w", str(wav), word], check=True, stdout=subprocess.DEVNULL)
    data, sr = sf.read(wav, dtype="float32")
    loud = np.flatnonzero(np.abs(data) > 0.02)
    data = data[loud[0]:loud[-1] + 1] if loud.size else data[:0]
    t_out = np.arange(int(len(data) * SR / sr)) / SR
    return np.interp(t_out, np.arange(len(data)) / sr, data).astype(np.float32)


def render_voice_part(part: Part, bpm: float, work: Path) -> tuple[np.ndarray, Part]:
    """Sing-speak the part's lyrics with espeak-ng, one word per note.

    The MIDI pitch of each note steers espeak's pitch setting, so the line follows the melody's
    contour. Returns the stereo stem and a copy of the part whose note lengths are the real
    word lengths, so the ground truth describes what is audible rather than what was asked.
    """
    sec_per_beat = 60.0 / bpm
    notes = part.all_notes()
    total = int((notes[-1].end * sec_per_beat + 3.0) * SR)
    out = np.zeros(total, dtype=np.float32)
    measured: dict[str, list[Note]] = {}
    for role, role_notes in part.notes.items():
        for n in role_notes:
            pitch = int(np.clip(50 + (n.pitch - 64) * 3.5, 5, 95))
            word = espeak_word(n.lyric or "la", part.voice or "en-us", pitch, 110, work)
            word = word[: int(n.dur * sec_per_beat * SR * 1.3)]
            fade = min(len(word), int(0.02 * SR))
            if fade:
                word[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
            i = int(n.start * sec_per_beat * SR)
            out[i:i + len(word)] += word[: max(0, total - i)] * (n.vel / 100)
            measured.setdefault(role, []).append(
                Note(n.start, len(word) / SR / sec_per_beat, n.pitch, n.vel, n.lyric))
    out = room(out, seed=len(notes))
    truth = Part(part.name, part.instrument, part.program, gain_db=part.gain_db, voice=part.voice,
                 notes=measured)
    return np.stack([out, out], axis=1), truth


def room(x: np.ndarray, seed: int, seconds: float = 0.8, wet: float = 0.18) -> np.ndarray:
    """A cheap seeded reverb (decaying noise impulse response) so dry speech sits in the mix."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    ir = rng.standard_normal(n).astype(np.float32) * np.exp(-np.arange(n) / (0.12 * SR))
    ir /= np.sqrt(np.sum(ir**2))
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    tail = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    return (x + wet * tail).astype(np.float32)


def active_rms(x: np.ndarray) -> float:
    """RMS over the louder half of 50 ms blocks: level while playing, ignoring rests."""
    mono = x.mean(axis=1)
    block = int(0.05 * SR)
    n = len(mono) // block
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(mono[: n * block].reshape(n, block) ** 2, axis=1))
    rms = np.sort(rms)[n // 2:]
    return float(np.sqrt(np.mean(rms**2))) if rms.size else 0.0


def mix(stems: list[tuple[np.ndarray, float]], seconds: float) -> np.ndarray:
    """Level-match stems (each to unit playing RMS, then its gain in dB), sum and normalise.

    Matching by RMS first makes ``gain_db`` mean the same for every SoundFont patch, so "lead
    at 0 dB, comping at -8 dB" holds whatever the patch's native loudness.
    """
    n = int(seconds * SR)
    out = np.zeros((n, 2), dtype=np.float32)
    for data, gain_db in stems:
        level = active_rms(data)
        if level < 1e-4:
            raise RuntimeError("a stem rendered silent (patch missing from the SoundFont?)")
        take = min(n, len(data))
        out[:take] += data[:take] / level * 10 ** (gain_db / 20)
    fade = int(1.0 * SR)
    out[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * 10 ** (-1 / 20)).astype(np.float32)


def render_track(parts: list[Part], bpm: float, sf2: Path, seconds: float
                 ) -> tuple[np.ndarray, list[Part]]:
    """Render and mix all parts; returns the mix and the parts as they sound (for the truth)."""
    stems = []
    truth = []
    with tempfile.TemporaryDirectory(prefix="tagger-lib-") as tmp:
        work = Path(tmp)
        for part in parts:
            if part.voice:
                data, sung = render_voice_part(part, bpm, work)
                truth.append(sung)
            else:
                data = render_midi_part(part, bpm, sf2, work)
                truth.append(part)
            stems.append((data, part.gain_db))
    return mix(stems, seconds), truth


def drum_part(name: str = "drums", gain_db: float = -7.0, kit: int = 0, reverb: int = 30) -> Part:
    """A drum-kit part on the GM percussion channel (``kit`` = GM2 kit program)."""
    return Part(name, "drums", kit, channel=DRUM_CHANNEL, bank=0, gain_db=gain_db, reverb=reverb)


def seeded(seed: int) -> random.Random:
    """One ``Random`` per track, so editing one track never changes another."""
    return random.Random(seed)
