"""Encode mixes with ffmpeg into each format, with native tags, and make the two bad files.

One table of codec settings keeps the library small (modest bitrates, short PCM files) and
makes it obvious which container carries which kind of tag.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .render import SR


@dataclass(frozen=True)
class Format:
    """How one file is encoded: codec arguments, sample rate and channel count."""

    args: tuple[str, ...]
    rate: int = SR
    channels: int = 2


FORMATS: dict[str, Format] = {
    "mp3": Format(("-c:a", "libmp3lame", "-b:a", "96k", "-id3v2_version", "3")),
    "flac": Format(("-c:a", "flac", "-sample_fmt", "s16", "-compression_level", "8"), channels=1),
    "ogg": Format(("-c:a", "libvorbis", "-q:a", "3")),
    "opus": Format(("-c:a", "libopus", "-b:a", "64k"), rate=48000),
    "m4a": Format(("-c:a", "aac", "-b:a", "96k")),
    "wav": Format(("-c:a", "pcm_s16le",), rate=22050, channels=1),
    "aiff": Format(("-c:a", "pcm_s16be", "-write_id3v2", "1"), rate=22050, channels=1),
    "wma": Format(("-c:a", "wmav2", "-b:a", "64k", "-f", "asf")),
}


def encode(path: Path, audio: np.ndarray, tags: dict[str, str]) -> Path:
    """Encode a stereo float mix at ``SR`` to ``path``; format, rate and channels follow the
    extension. Tags go in through ffmpeg ``-metadata``, which writes each container's native
    tags (ID3v2, Vorbis comments, MP4 atoms, ASF attributes, RIFF INFO)."""
    fmt = FORMATS[path.suffix.lstrip(".").lower()]
    meta: list[str] = []
    for key, value in tags.items():
        meta += ["-metadata", f"{key}={value}"]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(SR),
           "-ac", "2", "-i", "pipe:0", "-ac", str(fmt.channels), "-ar", str(fmt.rate),
           "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
           *fmt.args, *meta, str(path)]
    subprocess.run(cmd, input=np.ascontiguousarray(audio, dtype=np.float32).tobytes(), check=True)
    if path.suffix.lower() == ".wav":
        _add_wav_id3(path, tags)
    if path.suffix.lower() == ".wma":
        _tidy_asf(path, tags)
    return path


def _tidy_asf(path: Path, tags: dict[str, str]) -> None:
    """ffmpeg's ASF muxer writes lower-case ``title``/``date`` duplicates and ``Author`` twice;
    rewrite them as the attributes Windows Media tools use (Title, Author, WM/Year)."""
    from mutagen.asf import ASF

    asf = ASF(path)
    for key in ("title", "date"):
        if key in asf.tags:
            del asf.tags[key]
    asf.tags["Title"] = [tags["title"]]
    asf.tags["Author"] = [tags["artist"]]
    if "date" in tags:
        asf.tags["WM/Year"] = [tags["date"]]
    asf.save()


def _add_wav_id3(path: Path, tags: dict[str, str]) -> None:
    """Add an ID3 chunk beside ffmpeg's RIFF INFO: readers differ on which one they look at
    (mutagen only reads ID3 in WAV), and real libraries contain both."""
    from mutagen.id3 import TALB, TCON, TDRC, TIT2, TPE1, TRCK
    from mutagen.wave import WAVE

    frames = {"title": TIT2, "artist": TPE1, "album": TALB, "genre": TCON, "date": TDRC,
              "track": TRCK}
    wav = WAVE(path)
    if wav.tags is None:
        wav.add_tags()
    for key, frame in frames.items():
        if key in tags:
            wav.tags.add(frame(encoding=3, text=[tags[key]]))
    wav.save()


def make_broken_mp3(source: Path, dest: Path, seed: int) -> Path:
    """A real mp3 cut short and garbled: keep the tag and the first frames, overwrite the rest
    with noise and stop mid-frame. Scanners meet files like this after failed downloads and
    must report them, not crash."""
    rng = random.Random(seed)
    data = bytearray(source.read_bytes()[:24_000])
    for i in range(6_000, len(data)):
        data[i] = rng.randrange(256)
    dest.write_bytes(bytes(data[:-333]))
    return dest


NOT_AUDIO = """Liner notes for the tagger example library.

This file is deliberately NOT audio, although its name ends in .flac. It tests that a scan
reports files that cannot be decoded instead of crashing or silently skipping them.
See ANSWERS.json ("bad_files") and examples/README.md.
"""


def make_not_audio(dest: Path) -> Path:
    """Text with an audio extension: the other common bad file (mis-named downloads)."""
    dest.write_text(NOT_AUDIO, encoding="utf-8")
    return dest
