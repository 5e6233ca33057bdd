"""Identify an audio file from its first bytes, for :mod:`tagger.audio.decode`'s choice of backend.

Why not the extension: libraries hold misnamed files (an m4a called .mp3), and for mp3 the
first frame also says whether the length in the header can be trusted, which decides between
libsndfile (fast, but stops where the header says) and FFmpeg (reads to the end).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Sniff:
    """What the first bytes say: ``kind`` (``None`` if unknown); for mp3, whether a
    Xing/Info/VBRI header states the exact length (without one, every length is a guess from
    the bitrate), and whether that header's byte count matches the file (a stale header, left
    by an editor that cut or joined the file, makes libsndfile stop at the wrong place)."""

    kind: str | None
    mp3_length_header: bool = False
    mp3_header_matches_size: bool = False
    not_audio: str | None = None  # what the file is instead ("ELF executable"), when known


# Magic bytes of files that are certainly not audio, so they are reported as what they are:
# otherwise mpg123 or FFmpeg hunt for frame syncs in them and call the file a corrupt mp3.
_NOT_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "ELF executable"), (b"MZ", "Windows executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"), (b"#!", "script"),
    (b"%PDF", "PDF document"), (b"PK\x03\x04", "ZIP archive"), (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"), (b"Rar!", "RAR archive"),
    (b"\x89PNG", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
    (b"SQLite format 3\x00", "SQLite database"),
)


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _mp3_frame_at(b: bytes, i: int) -> bool:
    """A plausible MPEG audio frame header at ``b[i]`` (sync, version, layer, rate fields)."""
    if i + 4 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xE0) != 0xE0:
        return False
    version, layer = (b[i + 1] >> 3) & 3, (b[i + 1] >> 1) & 3
    bitrate, rate = b[i + 2] >> 4, (b[i + 2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def sniff(path: str | bytes) -> Sniff:
    """Identify the format from magic bytes, so a misnamed file still gets the right backend."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = 0
        head = fh.read(4096)
        if head[:3] == b"ID3" and len(head) >= 10:
            # Skip the ID3v2 tag (cover art can make it megabytes) and any zero padding after it.
            start = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
            fh.seek(start)
            head = fh.read(4096)
            stripped = head.lstrip(b"\x00")
            start += len(head) - len(stripped)
            head = stripped
    for magic, what in _NOT_AUDIO:
        if head.startswith(magic):
            return Sniff(None, not_audio=what)
    if head[:4] == b"fLaC":
        return Sniff("flac")
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return Sniff("wav")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniff("aiff")
    if head[:4] == b"OggS":
        if head[28:36] == b"OpusHead":
            return Sniff("opus")
        return Sniff("vorbis" if head[28:35] == b"\x01vorbis" else "ogg")
    if head[4:8] == b"ftyp":
        return Sniff("mp4")
    if head[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return Sniff("asf")
    if _mp3_frame_at(head, 0):
        stated = _mp3_stated_bytes(head)
        if stated is None:
            return Sniff("mp3")
        audio = size - start
        # mpg123's own test for a stale header is 1%; allow for ID3v1/APE tags at the end.
        return Sniff("mp3", True, stated > 0 and abs(audio - stated) <= 0.01 * audio + 256)
    return Sniff(None)


def _mp3_stated_bytes(frame: bytes) -> int | None:
    """The stream size a Xing/Info/VBRI header states (0 if it states frames only), or None
    when the first frame carries no such header. Xing/Info sit after the side info (offsets
    13..36 from the frame start); Fraunhofer's VBRI sits at 36."""
    for tag in (b"Xing", b"Info"):
        i = frame.find(tag, 4, 48)
        if i >= 0 and i + 8 <= len(frame):
            flags = int.from_bytes(frame[i + 4 : i + 8], "big")
            at = i + 8 + (4 if flags & 1 else 0)
            if flags & 2 and at + 4 <= len(frame):
                return int.from_bytes(frame[at : at + 4], "big")
            return 0
    if frame[36:40] == b"VBRI" and len(frame) >= 50:
        return int.from_bytes(frame[46:50], "big")
    return None


# The largest Ogg page: 27-byte header, 255 lacing values, 255 segments of 255 bytes.
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def ogg_cut_short(path: str | bytes) -> bool:
    """Whether an Ogg file ends inside its stream: the last page is cut off, or lacks the
    end-of-stream flag every Ogg writer sets on it.

    Why: Ogg declares no length up front, and both decoders take a cut file's last whole page
    as its end (a 30-s file cut to 2 s decodes cleanly to 2 s). Reads only the file's tail.
    Trailing bytes that are no page at all (junk after the stream) are not called a cut.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - _OGG_MAX_PAGE - 27))
        tail = fh.read()
    i = len(tail)
    while (i := tail.rfind(b"OggS", 0, i)) >= 0:
        if len(tail) - i < 27:
            return True  # cut inside a page header
        if tail[i + 4] != 0 or tail[i + 5] & 0xF8:
            continue  # version and flags say this is no page header, just bytes in a packet
        lacing = tail[i + 27 : i + 27 + tail[i + 26]]
        end = i + 27 + tail[i + 26] + sum(lacing)
        if len(lacing) < tail[i + 26] or end > len(tail):
            return True  # the last page is cut off
        return end == len(tail) and not tail[i + 5] & 0x04
    return False
