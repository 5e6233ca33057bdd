"""Where the audio lives inside each container, so a write can prove it left it byte-identical.

Each function takes an open binary file and returns *spans* ``(offset, length)`` whose
concatenated bytes are the track's audio (and, for IFF files, every chunk that is not the
tag). A tag write may move those bytes (a bigger tag shifts everything after it) but must not
change them: :func:`same_payload` compares the two files' spans byte for byte before the new
file replaces the old one.

Comparing, not hashing: ``bytes ==`` is a memcmp, several times faster than SHA-1 over the
same data, and the original is still on disk when we check.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from tagger.errors import TaggerError

Span = tuple[int, int]
PayloadFn = Callable[[BinaryIO, int], list[Span]]

_PIECE = 1 << 20  # compare in 1 MiB pieces so a long WAV never sits in memory twice


class PayloadError(TaggerError):
    """The container is not laid out the way its format says; we will not write to it."""


def id3v2_end(f: BinaryIO) -> int:
    """Offset just past a leading ID3v2 tag (header + body + footer), 0 when there is none."""
    f.seek(0)
    return id3v2_total_size(f.read(10))


def id3v2_total_size(head: bytes) -> int:
    """Size of the ID3v2 tag starting with the 10-byte header ``head`` (0: not a tag)."""
    if len(head) < 10 or head[:3] != b"ID3":
        return 0
    b = head[6:10]
    if any(x & 0x80 for x in b):
        raise PayloadError("ID3v2 tag size is not sync-safe")
    size = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
    footer = 10 if head[3] == 4 and head[5] & 0x10 else 0
    return 10 + size + footer


def mp3_spans(f: BinaryIO, size: int) -> list[Span]:
    """Everything after the ID3v2 tag: MPEG frames, and any ID3v1/APE tag we never touch."""
    start = id3v2_end(f)
    return [(start, max(size - start, 0))]


def flac_spans(f: BinaryIO, size: int) -> list[Span]:
    """The frames after the last metadata block (blocks: 1-byte type|last flag, 3-byte length)."""
    pos = id3v2_end(f)
    f.seek(pos)
    if f.read(4) != b"fLaC":
        raise PayloadError("no fLaC marker")
    pos += 4
    while True:
        f.seek(pos)
        head = f.read(4)
        if len(head) < 4:
            raise PayloadError("metadata blocks run past the end of the file")
        pos += 4 + int.from_bytes(head[1:4], "big")
        if head[0] & 0x80:
            break
    return [(pos, max(size - pos, 0))]


def _iff_spans(f: BinaryIO, size: int, *, little: bool, tag_ids: tuple[bytes, ...]) -> list[Span]:
    """Every chunk (header and data) except the ID3 chunk, in file order."""
    spans: list[Span] = []
    fmt = "<I" if little else ">I"
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(8)
        length = struct.unpack(fmt, head[4:8])[0]
        total = min(8 + length + (length & 1), size - pos)
        if head[:4].lower() not in tag_ids:
            spans.append((pos, total))
        pos += total
    return spans


def iff_chunk_offset(f: BinaryIO, size: int, *, little: bool, chunk_id: bytes) -> int | None:
    """Offset of the data of the first chunk named ``chunk_id`` (any case), or None."""
    fmt = "<I" if little else ">I"
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(8)
        if head[:4].lower() == chunk_id:
            return pos + 8
        length = struct.unpack(fmt, head[4:8])[0]
        pos += 8 + length + (length & 1)
    return None


def wav_spans(f: BinaryIO, size: int) -> list[Span]:
    return _iff_spans(f, size, little=True, tag_ids=(b"id3 ",))


def aiff_spans(f: BinaryIO, size: int) -> list[Span]:
    return _iff_spans(f, size, little=False, tag_ids=(b"id3 ",))


def mp4_spans(f: BinaryIO, size: int) -> list[Span]:
    """The contents of every top-level ``mdat`` box (the coded audio)."""
    spans: list[Span] = []
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(16)
        length, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if length == 1:
            length = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif length == 0:
            length = size - pos
        if length < header:
            raise PayloadError(f"bad MP4 box size at offset {pos}")
        if kind == b"mdat":
            spans.append((pos + header, min(length, size - pos) - header))
        pos += length
    if not spans:
        raise PayloadError("no mdat box")
    return spans


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def mp4_layout(f: BinaryIO, size: int) -> list[int]:
    """Where each chunk table entry (``stco``/``co64``) points, *as a position in the audio*.

    Moving ``mdat`` (a bigger ``moov`` before it) is fine as long as mutagen rewrote the chunk
    offsets to match; equal byte payloads alone would not notice if it had not.
    """
    spans = mp4_spans(f, size)
    offsets: list[int] = []

    def walk(start: int, end: int) -> None:
        pos = start
        while pos + 8 <= end:
            f.seek(pos)
            length, kind = struct.unpack(">I4s", f.read(8))
            header = 8
            if length == 1:
                length, header = struct.unpack(">Q", f.read(8))[0], 16
            elif length == 0:
                length = end - pos
            if length < header:
                raise PayloadError(f"bad MP4 box size at offset {pos}")
            if kind in _MP4_CONTAINERS:
                walk(pos + header, min(pos + length, end))
            elif kind in (b"stco", b"co64"):
                f.seek(pos + header + 4)
                count = struct.unpack(">I", f.read(4))[0]
                width = 4 if kind == b"stco" else 8
                data = f.read(count * width)
                offsets.extend(struct.unpack(f">{count}{'I' if width == 4 else 'Q'}", data))
            pos += length

    walk(0, size)
    relative = []
    for off in offsets:
        base = 0
        for start, length in spans:
            if start <= off < start + length:
                relative.append(base + off - start)
                break
            base += length
        else:
            relative.append(-1)  # points outside every mdat: still must match before/after
    return relative


def asf_spans(f: BinaryIO, size: int) -> list[Span]:
    """Everything after the ASF header object: the data object and any index objects."""
    f.seek(16)
    header_size = struct.unpack("<Q", f.read(8))[0]
    if not 24 <= header_size <= size:
        raise PayloadError("bad ASF header size")
    return [(header_size, size - header_size)]


def _ogg_spans(f: BinaryIO, size: int, *, header_packets: int) -> list[Span]:
    """Page bodies of the file minus the first stream's header packets (incl. comments).

    A tag write replaces the comment packet and renumbers the pages after it (new sequence
    numbers and CRCs), so the page bytes differ while the packets, the actual audio, do not.
    """
    spans: list[Span] = []
    first_serial: int | None = None
    skip = 0  # body bytes of the first stream still belonging to header packets
    packets_seen = 0
    pos = 0
    while pos + 27 <= size:
        f.seek(pos)
        head = f.read(27)
        if head[:4] != b"OggS":
            raise PayloadError(f"lost Ogg page sync at offset {pos}")
        serial = struct.unpack("<I", head[14:18])[0]
        nsegs = head[26]
        lacing = f.read(nsegs)
        body = pos + 27 + nsegs
        body_len = sum(lacing)
        if first_serial is None:
            first_serial = serial
        if serial == first_serial and packets_seen < header_packets:
            for lace in lacing:
                if packets_seen >= header_packets:
                    break
                skip += lace
                if lace < 255:
                    packets_seen += 1
            start, length = body + skip, body_len - skip
            skip = 0
        else:
            start, length = body, body_len
        if length > 0:
            spans.append((start, min(length, size - start)))
        pos = body + body_len
    return spans


def vorbis_spans(f: BinaryIO, size: int) -> list[Span]:
    return _ogg_spans(f, size, header_packets=3)  # identification, comment, setup


def opus_spans(f: BinaryIO, size: int) -> list[Span]:
    return _ogg_spans(f, size, header_packets=2)  # OpusHead, OpusTags


def _pieces(mm: mmap.mmap, spans: list[Span]) -> Iterator[bytes]:
    for start, length in spans:
        end = start + length
        while start < end:
            stop = min(start + _PIECE, end)
            yield mm[start:stop]
            start = stop


def same_payload(path_a: str, spans_a: list[Span], path_b: str, spans_b: list[Span]) -> bool:
    """True when the concatenated spans of the two files hold exactly the same bytes."""
    if sum(n for _s, n in spans_a) != sum(n for _s, n in spans_b):
        return False
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        if sum(n for _s, n in spans_a) == 0:
            return True
        with mmap.mmap(fa.fileno(), 0, access=mmap.ACCESS_READ) as ma, \
                mmap.mmap(fb.fileno(), 0, access=mmap.ACCESS_READ) as mb:
            it_b = _pieces(mb, spans_b)
            pending = b""
            for piece in _pieces(ma, spans_a):
                # Re-cut b's stream to the length of a's piece; pieces rarely disagree in size.
                while len(pending) < len(piece):
                    nxt = next(it_b, None)
                    if nxt is None:
                        return False
                    pending = nxt if not pending else pending + nxt
                if pending[: len(piece)] != piece:
                    return False
                pending = pending[len(piece):]
            return not pending and next(it_b, None) is None
