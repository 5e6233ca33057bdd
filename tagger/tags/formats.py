"""The audio containers we can tag: how mutagen opens and saves each, and where its audio is.

A :class:`Container` is the one place format knowledge lives. Loading is *lossless on purpose*:
ID3 tags load with ``translate=False`` (an ID3v2.3 tag stays v2.3 frame for frame instead of
being upgraded in memory) and ``load_v1=False`` (otherwise mutagen merges the ID3v1 tag into
the v2 frames, and saving would copy it there). Saving keeps the ID3 version (a new tag gets
the one asked for, :mod:`tagger.tags.options`) and writes lists NUL-separated
(``v23_sep=None``), which is what mutagen, and so beets and Picard, reads back as a list, and
which leaves every other multi-value frame exactly as it was.

MP3s are rebuilt as *new ID3v2 tag + the original bytes after the old tag*: mutagen's own save
would rewrite any ID3v1 tag from the v2 frames, and this way whatever follows the tag (frames,
ID3v1, APE) is copied, never re-encoded.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from functools import partial
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from tagger.tags import payload
from tagger.tags.fields import FIELDS, TagKind

_ID3_KW = {"translate": False, "load_v1": False}


class TagError(Exception):
    """One file could not be read or written; the message is one line for the user."""


_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SQLITE_FULL = 13


def out_of_room(exc: BaseException) -> TagError | None:
    """The one-line error for a write that ran out of room, whatever wrapped it, else None.

    A full disk surfaces as an OSError, as mutagen's error around one, or as SQLite's
    "database or disk is full"; the user should read the real reason every time, not the
    wrapper's words (or a failed rollback's).
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _NO_ROOM:
            return TagError(f"{os.strerror(e.errno)}; file left as it was")
        if getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL:
            return TagError(f"{os.strerror(errno.ENOSPC)}; file left as it was")
        todo += [e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))]
    return None


@dataclass(frozen=True)
class Container:
    """One tag-able format: its mutagen class, tag kind, save routine and audio spans."""

    name: str
    mutagen_type: type[mutagen.FileType]
    kind: TagKind
    spans: payload.PayloadFn
    load_kwargs: dict[str, Any] = field(default_factory=dict)
    id3_offset: Callable[[BinaryIO, int], int | None] | None = None  # where an ID3 tag starts
    layout: Callable[[BinaryIO, int], Any] | None = None  # how the index points into the audio
    saver: Callable[[mutagen.FileType, str, str, int], None] = field(
        default=lambda mf, src, dst, id3_version: mf.save(dst))
    rebuilds: bool = False  # the saver builds dst from src itself: no copy beforehand
    stripper: Callable[[mutagen.FileType, str, str], None] | None = None  # dst without a tag

    def load(self, path: str) -> mutagen.FileType:
        try:
            mf = self.mutagen_type(path, **self.load_kwargs)
        except FileNotFoundError:
            raise TagError("file not found") from None
        except PermissionError:
            raise TagError("permission denied reading the file") from None
        except Exception as exc:  # mutagen raises more than MutagenError on damaged files
            raise TagError(f"cannot parse {self.name} file: {_reason(exc)}") from None
        if mf.tags is None:
            mf.add_tags()
        return mf

    def save(self, mf: mutagen.FileType, src: str, dst: str, id3_version: int = 4) -> None:
        """Write ``mf``'s tags into ``dst``: a byte copy of ``src``, or (``rebuilds``) empty.

        ``id3_version`` (3 or 4): the ID3 kinds' tag version, see :func:`id3_version`."""
        self.saver(mf, src, dst, id3_version)

    def strip(self, mf: mutagen.FileType, src: str, dst: str) -> None:
        """Write ``dst`` as ``src`` with no tag at all (ID3 kinds only): undo tagging a file
        that had none, byte for byte, instead of leaving an empty tag and its padding."""
        if self.stripper is None:
            raise TagError(f"cannot remove the whole tag of a {self.name} file")
        self.stripper(mf, src, dst)

    def check_id3(self, path: str, mf: mutagen.FileType) -> None:
        """Refuse a tag mutagen would not write back frame for frame (see ``id3check``)."""
        if self.id3_offset is None or not mf.tags.size:
            return
        if mf.tags.version < (2, 3, 0):
            raise TagError("has an ID3v2.2 tag, which cannot be written without converting it")
        from tagger.tags.id3check import check_roundtrip

        with open(path, "rb") as f:
            offset = self.id3_offset(f, os.fstat(f.fileno()).st_size)
            if offset is not None:
                check_roundtrip(f, offset, mf)

    def audio_spans(self, path: str) -> list[payload.Span]:
        with open(path, "rb") as f:
            return self.spans(f, os.fstat(f.fileno()).st_size)

    def audio_layout(self, path: str) -> Any:
        """What must not change besides the audio bytes (MP4: chunk offsets), or None."""
        if self.layout is None:
            return None
        with open(path, "rb") as f:
            return self.layout(f, os.fstat(f.fileno()).st_size)


def id3_version(mf: mutagen.FileType, new_tag: int = 4) -> int:
    """3 or 4: the version the file's tag has; ``new_tag`` when it had no tag yet."""
    if not getattr(mf.tags, "size", 0):
        return new_tag
    return 3 if mf.tags.version[:2] == (2, 3) else 4


def _save_iff_id3(mf: mutagen.FileType, src: str, dst: str, version: int) -> None:
    """WAV/AIFF: the ID3 chunk, in the tag's own version, multi-values NUL-separated."""
    mf.tags.save(dst, v2_version=version, v23_sep=None)


def _save_mp3(mf: mutagen.FileType, src: str, dst: str, version: int) -> None:
    """New ID3v2 tag, then the original's bytes after its old tag, copied by the kernel."""
    buf = io.BytesIO()
    # 1 KiB of padding keeps later in-place edits (by any tagger) cheap; v1=0 only concerns the
    # empty buffer, the original ID3v1 tag travels with the copied tail.
    mf.tags.save(buf, v1=0, v2_version=version, v23_sep=None, padding=lambda info: 1024)
    with open(src, "rb") as fsrc:
        start = payload.id3v2_end(fsrc)
        length = os.fstat(fsrc.fileno()).st_size - start
        with open(dst, "wb") as fdst:
            fdst.write(buf.getvalue())
            fdst.flush()
            copy_range(fsrc, start, length, fdst)


def _strip_mp3(mf: mutagen.FileType, src: str, dst: str) -> None:
    """The original's bytes after its ID3v2 tag, and nothing before them."""
    with open(src, "rb") as fsrc:
        start = payload.id3v2_end(fsrc)
        with open(dst, "wb") as fdst:
            copy_range(fsrc, start, os.fstat(fsrc.fileno()).st_size - start, fdst)


def _strip_iff(mf: mutagen.FileType, src: str, dst: str) -> None:
    """WAV/AIFF (``dst`` a copy of ``src``): the ID3 chunk deleted, the RIFF/FORM size fixed."""
    mf.tags.delete(dst)


def copy_range(fsrc: BinaryIO, start: int, length: int, fdst: BinaryIO) -> None:
    """Copy ``length`` bytes from ``start`` in the kernel (reflinks where the file system can)."""
    src_fd, dst_fd = fsrc.fileno(), fdst.fileno()
    offset = start
    try:
        while length > 0:
            n = os.copy_file_range(src_fd, dst_fd, length, offset)
            if n == 0:
                break
            offset += n
            length -= n
    except OSError:
        fsrc.seek(offset)
        fdst.seek(0, os.SEEK_END)
        while length > 0:
            chunk = fsrc.read(min(length, 1 << 20))
            if not chunk:
                break
            fdst.write(chunk)
            length -= len(chunk)
    if length:
        raise TagError("the file got shorter while it was being copied")


CONTAINERS: tuple[Container, ...] = (
    Container("mp3", MP3, "id3", payload.mp3_spans, _ID3_KW, lambda f, size: 0,
              saver=_save_mp3, rebuilds=True, stripper=_strip_mp3),
    Container("wav", WAVE, "id3", payload.wav_spans, _ID3_KW,
              partial(payload.iff_chunk_offset, little=True, chunk_id=b"id3 "),
              saver=_save_iff_id3, stripper=_strip_iff),
    Container("aiff", AIFF, "id3", payload.aiff_spans, _ID3_KW,
              partial(payload.iff_chunk_offset, little=False, chunk_id=b"id3 "),
              saver=_save_iff_id3, stripper=_strip_iff),
    Container("flac", FLAC, "vorbis", payload.flac_spans),
    Container("ogg", OggVorbis, "vorbis", payload.vorbis_spans),
    Container("opus", OggOpus, "vorbis", payload.opus_spans),
    Container("m4a", MP4, "mp4", payload.mp4_spans, layout=payload.mp4_layout),
    Container("wma", ASF, "asf", payload.asf_spans),
)


def detect(path: str) -> Container:
    """Pick the container the way ``mutagen.File`` does: highest score on header and name."""
    try:
        with open(path, "rb") as f:
            header = f.read(128)
            scores = [(c.mutagen_type.score(path, f, header), i) for i, c in enumerate(CONTAINERS)]
    except FileNotFoundError:
        raise TagError("file not found") from None
    except IsADirectoryError:
        raise TagError("is a folder, not an audio file") from None
    except PermissionError:
        raise TagError("permission denied reading the file") from None
    best, index = max(scores)
    if best <= 0:
        raise TagError("not a format tagger can tag (mp3, flac, ogg, opus, m4a, wma, wav, aiff)")
    return CONTAINERS[index]


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def fingerprint(mf: mutagen.FileType, kind: TagKind) -> dict[str, str]:
    """A digest per tag key *other than ours* (plus FLAC metadata blocks, unknown ID3 frames).

    Compared before and after a write: any difference means something besides our fields
    changed, and the write is refused. Values keep their order within a key; the order of
    keys is not compared (containers such as ASF regroup attributes when saving).
    """
    ours = {f.style(kind).label.lower() for f in FIELDS}
    grouped: dict[str, list[str]] = {}
    for key, value in _entries(mf, kind):
        if key.lower() in ours:
            continue
        name = key.lower() if kind == "vorbis" else key
        grouped.setdefault(name, []).append(repr(value))
    return {k: hashlib.sha1("\x00".join(v).encode("utf-8", "backslashreplace")).hexdigest()
            for k, v in grouped.items()}


def _entries(mf: mutagen.FileType, kind: TagKind) -> Iterator[tuple[str, Any]]:
    tags = mf.tags
    if kind == "id3":
        # A frame's text encoding is left out: mutagen re-encodes text that is invalid for the
        # tag's version (UTF-8 in an ID3v2.3 tag becomes UTF-16); the text itself must match.
        for key, frame in tags.items():
            yield key, sorted((k, v) for k, v in vars(frame).items() if k != "encoding")
        for raw in tags.unknown_frames:
            yield "=unknown-frame", raw
    elif kind == "mp4":
        yield from tags.items()
    else:  # Vorbis comments and ASF attributes are lists of (key, value) pairs
        yield from tags
    for block in getattr(mf, "metadata_blocks", ()):
        if block.code not in (1, 4):  # FLAC padding and the comment block itself may change
            yield "=flac-block", block.write()


