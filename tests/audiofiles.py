"""Make real audio files for tests: synthesized signals encoded by ffmpeg in every format.

Tests import these helpers instead of shipping binary fixtures, so each test states the exact
signal it feeds the code. ffmpeg encodes each distinct signal/format/tags once per test run
(``write_audio`` copies the file it made before: many tests feed the same tone).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# Extension -> ffmpeg codec arguments. One place, so every test encodes formats the same way.
CODECS: dict[str, list[str]] = {
    ".wav": ["-c:a", "pcm_s16le"],
    ".flac": ["-c:a", "flac"],
    ".aiff": ["-c:a", "pcm_s16be", "-write_id3v2", "1"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "4"],
    ".ogg": ["-c:a", "libvorbis", "-q:a", "3"],
    ".opus": ["-c:a", "libopus", "-b:a", "64k"],
    ".m4a": ["-c:a", "aac", "-b:a", "128k"],
    ".wma": ["-c:a", "wmav2", "-b:a", "128k"],
}
FORMATS = tuple(CODECS)


def tone(
    seconds: float, sr: int = 44100, *, freq: float = 440.0, channels: int = 1, amp: float = 0.3
) -> np.ndarray:
    """A harmonic tone (fundamental plus a few overtones), shape (frames, channels)."""
    t = np.arange(int(round(seconds * sr))) / sr
    wave = sum(amp / k * np.sin(2 * np.pi * freq * k * t) for k in (1, 2, 3, 4))
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def write_audio(
    path: str | Path,
    samples: np.ndarray,
    sr: int,
    *,
    title: str | None = None,
    artist: str | None = None,
) -> Path:
    """Encode ``samples`` (frames[, channels]) to ``path``; the codec follows the extension."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is needed to make test audio (apt-get install ffmpeg)")
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in CODECS:
        raise ValueError(f"no codec for {ext}")
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    channels = data.shape[1]
    meta: list[str] = []
    if title:
        meta += ["-metadata", f"title={title}"]
    if artist:
        meta += ["-metadata", f"artist={artist}"]
    fmt = ["-f", "asf"] if ext == ".wma" else []
    args = ["-f", "f32le", "-ar", str(sr), "-ac", str(channels), "-i", "pipe:0",
            *CODECS[ext], *meta, *fmt]
    key = hashlib.sha256(repr(args).encode() + data.tobytes()).hexdigest()
    encoded = _encoded(key, ext, args, data)
    shutil.copyfile(encoded, path)
    return path


_ENCODED: dict[str, Path] = {}  # what ffmpeg made, by hash of its arguments and input samples


def _encoded(key: str, ext: str, args: list[str], data: np.ndarray) -> Path:
    """The file ffmpeg makes from ``args`` and ``data``, encoded on first use this run."""
    made = _ENCODED.get(key)
    if made is None or not made.exists():
        made = _cache_dir() / f"{key}{ext}"
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(made)]
        subprocess.run(cmd, input=data.tobytes(), check=True)
        _ENCODED[key] = made
    return made


@functools.cache
def _cache_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tagger-test-audio-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
