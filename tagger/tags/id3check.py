"""Refuse ID3 tags that mutagen would not write back frame for frame.

Loading an ID3 tag, mutagen silently merges duplicate frames (two ``TPE1`` become one with two
values) and drops frames it cannot parse or whose ID is invalid. Our before/after comparison
of tags (:func:`tagger.tags.formats.fingerprint`) cannot see that, since both sides are
mutagen's view: saving such a tag would change frames we never meant to touch. So before a
write we count the frames in the raw tag and compare with what mutagen holds; if they differ
we leave the file alone and say why.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import mutagen

from tagger.tags.errors import TagError
from tagger.tags.payload import PayloadError, id3v2_total_size


def raw_frame_ids(body: bytes, *, syncsafe: bool) -> list[str] | None:
    """Frame IDs of non-empty frames in a tag body; None if the sizes do not walk cleanly."""
    ids = []
    pos = 0
    while pos + 10 <= len(body):
        name, size, _flags = struct.unpack(">4sLH", body[pos:pos + 10])
        if name.strip(b"\x00") == b"":
            return ids  # padding
        if syncsafe:
            if size & 0x80808080:
                return None
            size = (size & 0x7F) | (size & 0x7F00) >> 1 | (size & 0x7F0000) >> 2 | (
                size & 0x7F000000) >> 3
        if pos + 10 + size > len(body):
            return None
        if size:
            ids.append(name.decode("latin-1"))
        pos += 10 + size
    return ids if pos <= len(body) else None


def read_tag(f: BinaryIO, offset: int) -> tuple[int, int, bytes] | None:
    """(major version, flags, body without header) of the ID3v2 tag at ``offset``."""
    f.seek(offset)
    head = f.read(10)
    if len(head) < 10 or head[:3] != b"ID3":
        return None
    try:
        total = id3v2_total_size(head)
    except PayloadError:
        raise TagError("its ID3 tag size is not sync-safe; left as it was") from None
    footer = 10 if head[3] == 4 and head[5] & 0x10 else 0
    return head[3], head[5], f.read(total - 10 - footer)


def check_roundtrip(f: BinaryIO, offset: int, mf: mutagen.FileType) -> None:
    """Raise :class:`TagError` if mutagen's frames differ in number from the raw tag's."""
    tag = read_tag(f, offset)
    if tag is None:
        return
    major, flags, body = tag
    if flags & 0x40:
        return  # extended header: rare; mutagen parses it, our walker does not
    if major == 3 and flags & 0x80:
        body = body.replace(b"\xff\x00", b"\xff")  # whole-tag unsynchronisation (v2.3)
    walks = [raw_frame_ids(body, syncsafe=major == 4)]
    if major == 4:
        walks.append(raw_frame_ids(body, syncsafe=False))  # old iTunes wrote plain sizes
    held = sorted([frame.FrameID for frame in mf.tags.values()]
                  + [raw[:4].decode("latin-1") for raw in mf.tags.unknown_frames])
    if any(ids is not None and sorted(ids) == held for ids in walks):
        return
    ids = next((w for w in walks if w is not None), None)
    if ids is None:
        raise TagError("its ID3 tag has frames whose sizes run past the tag; left as it was")
    lost = sorted(set(ids) - set(held)) or sorted(i for i in set(ids) if ids.count(i) > held.count(i))
    raise TagError(
        "its ID3 tag has duplicate or damaged frames that would not be written back as they"
        f" are ({', '.join(lost) or 'frame count differs'}); left as it was"
    )
