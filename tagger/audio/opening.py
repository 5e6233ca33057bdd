"""Open a track for decoding: check the file, sniff its format, pick the backend that reads it.

The first step of :mod:`tagger.audio.decode` (and of :func:`tagger.audio.clip.load_clip`): the
file-system problems become one-line :class:`DecodeError`s before any backend sees the file,
the format comes from the first bytes (not the name), and backends are tried in the order
measured fastest for that format.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from tagger.audio.backends import AudioreadSource, NotReadable, PyAVSource, SoundfileSource, Source
from tagger.audio.sniff import Sniff, ogg_cut_short, sniff
from tagger.errors import TaggerError

BACKENDS = ("soundfile", "pyav", "audioread")

# Backend order per sniffed format, fastest first. Measured with benchmarks/bench_decode.py on
# the 2-core dev VM (60 s of 44.1 kHz stereo music -> 32 kHz mono, CPU-time x real time, one
# core, medians; the machine was shared, so +-10%): soundfile vs pyav
#   wav 1580-1920 vs 950-1100, aiff 1490-1600 vs 1130-1240, flac 740-770 vs 680-700,
#   mp3 960-1060 vs 670-840, ogg/vorbis 610-630 vs 640-760, opus 170-180 vs 350-490;
#   m4a (pyav only) 800-930, wma (pyav only) 1000-1170.
# FFmpeg's own resampler instead of soxr ("pyav+swr") was slower for every format.
# libsndfile cannot read mp4/m4a or asf/wma; unknown formats go to FFmpeg first.
_ORDER: dict[str | None, tuple[str, ...]] = {
    "wav": ("soundfile", "pyav", "audioread"),
    "aiff": ("soundfile", "pyav", "audioread"),
    "flac": ("soundfile", "pyav", "audioread"),
    "mp3": ("soundfile", "pyav", "audioread"),
    # libvorbis (via libsndfile) first: FFmpeg's own Vorbis decoder lacks floor type 0 and
    # fails on such files (seen on Debian's klettres-data); speed is a tie for Vorbis.
    "vorbis": ("soundfile", "pyav", "audioread"),
    "opus": ("pyav", "soundfile", "audioread"),
    "ogg": ("pyav", "soundfile", "audioread"),
    "mp4": ("pyav", "audioread"),
    "asf": ("pyav", "audioread"),
    None: ("pyav", "soundfile", "audioread"),
}
# libsndfile stops an mp3 at the length it believes (libsndfile issue #1001). Without a
# Xing/Info/VBRI header that is a guess from the first frame's bitrate: a VBR file lost two
# thirds of its audio in our test, with no error. A header whose byte count disagrees with the
# file (cut, joined or truncated files) is no better. Those mp3s go to FFmpeg, which reads to
# the end of the data whatever the header says.
_MP3_TO_FFMPEG = ("pyav", "audioread")

# A shortfall against the header's length beyond this is a truncation. Normal files differ by
# encoder delay/padding only (AAC, Opus pre-skip, WMA: tens of milliseconds).


class DecodeError(TaggerError):
    """A track that cannot be decoded. ``str()`` is one line for users; ``kind`` is for code.

    kinds: ``not_found``, ``permission``, ``not_a_file``, ``empty`` (0 bytes, or no samples),
    ``not_audio``, ``corrupt`` (truncated or damaged), ``io``; ``past_end`` (a clip that starts
    after the track's end, :func:`tagger.audio.clip.load_clip`).
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class OpenedTrack:
    """A track opened by the first backend that can read it, with what its header promises."""

    source: Source
    label: str  # the format as users call it, for messages ("mp3", "flac")
    length_is_exact: bool  # the header's length is a fact, so a shortfall means truncation
    path: str | bytes
    can_take_over: bool  # FFmpeg may resume where libsndfile failed (auto mode only)
    cut_short: bool = False  # the container shows the file was cut (Ogg without its last page)


def _check_file(path: str | bytes) -> None:
    """Turn the common file-system problems into clear errors before any backend sees them
    (backends report a missing file as "format not recognised", and opening a FIFO would hang)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise DecodeError("file not found", kind="not_found") from None
    except PermissionError:
        raise DecodeError("permission denied", kind="permission") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror or exc})", kind="io") from None
    if stat.S_ISDIR(st.st_mode):
        raise DecodeError("is a directory, not an audio file", kind="not_a_file")
    if not stat.S_ISREG(st.st_mode):
        raise DecodeError("not a regular file (device, socket or pipe)", kind="not_a_file")
    if st.st_size == 0:
        raise DecodeError("file is empty (0 bytes)", kind="empty")


def _label(path: str | bytes, found: Sniff) -> str:
    ext = os.path.splitext(os.fsdecode(path))[1].lower().lstrip(".")
    if ext and len(ext) <= 5 and ext.isalnum():
        return ext
    return {"mp4": "m4a", "asf": "wma"}.get(found.kind or "", found.kind or "audio")


def _open_backend(name: str, path: str | bytes, found: Sniff) -> Source:
    if name == "soundfile":
        # mpg123 runs for mp3, for MPEG audio inside WAV and when libsndfile guesses at an
        # unidentified file; only formats that never reach it are read without the redirect.
        return SoundfileSource(path, quiet=found.kind not in ("flac", "aiff", "vorbis", "opus"))
    if name == "pyav":
        return PyAVSource(path)
    if name == "audioread":
        return AudioreadSource(path)
    raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, not {name!r}")


def open_track(path: str | bytes, backend: str) -> OpenedTrack:
    """Check the file, sniff its format and open it with the first backend that can read it."""
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, not {backend!r}")
    _check_file(path)
    try:
        found = sniff(path)
        cut = found.kind in ("vorbis", "opus", "ogg") and ogg_cut_short(path)
    except PermissionError:
        raise DecodeError("permission denied", kind="permission") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror or exc})", kind="io") from None
    if found.not_audio:
        raise DecodeError(f"not an audio file ({found.not_audio})", kind="not_audio")
    label = _label(path, found)
    if backend != "auto":
        order: tuple[str, ...] = (backend,)
    elif found.kind == "mp3" and not found.mp3_header_matches_size:
        order = _MP3_TO_FFMPEG
    else:
        order = _ORDER.get(found.kind, _ORDER[None])
    exact = found.kind is not None and (found.kind != "mp3" or found.mp3_length_header)
    failures: list[NotReadable] = []
    held: Source | None = None
    for name in order:
        try:
            source = _open_backend(name, path, found)
        except NotReadable as exc:
            failures.append(exc)
            continue
        if source.name == "soundfile" and source.declared_frames is None and name != order[-1]:
            # libsndfile trusts the header's length: without one (FLAC written to a pipe) it
            # fails near the end. Keep it only in case nothing else can read the file.
            held = held or source
            continue
        if held is not None:
            held.close()
        take_over = source.name == "soundfile" and "pyav" in order[order.index(name) :]
        return OpenedTrack(source, label, exact, path, take_over, cut)
    if held is not None:
        return OpenedTrack(held, label, exact, path, False, cut)
    if any(f.no_audio for f in failures):
        raise DecodeError("not an audio file (no audio stream found)", kind="not_audio")
    if found.kind is not None:  # the magic bytes say audio, yet no backend can read the header
        reason = failures[0].reason if failures else "unreadable"
        raise DecodeError(f"truncated or corrupt {label}: cannot read its header ({reason})",
                          kind="corrupt")  # fmt: skip
    raise DecodeError("not an audio file (format not recognised)", kind="not_audio")
