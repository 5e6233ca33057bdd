"""The fields tagger writes into files, each declared once with one storage style per tag kind.

Like beets' ``MediaField``: a :class:`Field` names the value (``INSTRUMENTS``) and carries a
:class:`StorageStyle` for every tag kind (ID3, Vorbis comments, MP4 atoms, ASF attributes). The
code that reads and writes files never branches on the format; it asks the field for the style
of the file's tag kind. The keys follow the convention beets and Picard use for custom fields,
so both (and foobar2000, and anything reading freeform iTunes atoms) show them:

========== ====================================== =========================================
kind       storage                                 formats
========== ====================================== =========================================
``id3``    ``TXXX`` frame, description = name      mp3, wav, aiff (the ID3 chunk)
``vorbis`` Vorbis comment ``NAME``                 flac, ogg vorbis, opus
``mp4``    freeform ``----:com.apple.iTunes:NAME`` m4a / aac
``asf``    attribute ``NAME`` (unicode)            wma
========== ====================================== =========================================

Every style can also take an exact *snapshot* of what a file holds under its key (encoding,
data type, key spelling...) as JSON, and restore it: that is how ``tagger tag --remove`` puts
back a value we replaced, byte for byte rather than just "the same text".
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from mutagen.asf import ASFBaseAttribute, ASFUnicodeAttribute, ASFValue
from mutagen.id3 import TXXX, Encoding
from mutagen.mp4 import AtomDataType, MP4FreeForm

TagKind = Literal["id3", "vorbis", "mp4", "asf"]
TAG_KINDS: tuple[TagKind, ...] = ("id3", "vorbis", "mp4", "asf")

# A snapshot is JSON (it lives in the store): None means "the file had nothing under this key".
Snapshot = Any


class StorageStyle(ABC):
    """How one field is stored in one tag kind. ``tags`` is the mutagen tags object."""

    kind: TagKind

    def __init__(self, key: str):
        self.key = key

    @property
    def label(self) -> str:
        """The key as the file holds it (shown by ``tagger tag --read``)."""
        return self.key

    @abstractmethod
    def get(self, tags: Any) -> list[str]:
        """The text values, in file order; ``[]`` when absent."""

    @abstractmethod
    def set(self, tags: Any, values: list[str]) -> None:
        """Replace whatever is stored under the key with ``values`` (non-empty)."""

    @abstractmethod
    def delete(self, tags: Any) -> None:
        """Remove the key; a no-op when absent."""

    @abstractmethod
    def snapshot(self, tags: Any) -> Snapshot:
        """An exact JSON form of what is stored under the key, or None when absent."""

    @abstractmethod
    def restore(self, tags: Any, snap: Snapshot) -> None:
        """Put back what :meth:`snapshot` took (None: delete the key)."""


class ID3UserText(StorageStyle):
    """A ``TXXX`` frame whose description is the key; a list of values is NUL-separated.

    Written as UTF-8 (mutagen turns that into UTF-16 in ID3v2.3 tags, where UTF-8 is not allowed).
    """

    kind: TagKind = "id3"

    @property
    def label(self) -> str:
        return f"TXXX:{self.key}"

    def get(self, tags: Any) -> list[str]:
        frame = tags.get(self.label)
        return [str(t) for t in frame.text] if frame is not None else []

    def set(self, tags: Any, values: list[str]) -> None:
        tags.delall(self.label)
        tags.add(TXXX(encoding=Encoding.UTF8, desc=self.key, text=list(values)))

    def delete(self, tags: Any) -> None:
        tags.delall(self.label)

    def snapshot(self, tags: Any) -> Snapshot:
        frame = tags.get(self.label)
        if frame is None:
            return None
        return {"encoding": int(frame.encoding), "desc": frame.desc,
                "text": [str(t) for t in frame.text]}

    def restore(self, tags: Any, snap: Snapshot) -> None:
        tags.delall(self.label)
        if snap is not None:
            tags.add(TXXX(encoding=Encoding(snap["encoding"]), desc=snap["desc"],
                          text=list(snap["text"])))


class VorbisComment(StorageStyle):
    """A Vorbis comment (FLAC, Ogg Vorbis, Opus): one ``KEY=value`` entry per value.

    Keys are case-insensitive in Vorbis comments, so reading and deleting ignore case; the
    snapshot keeps each entry's spelling.
    """

    kind: TagKind = "vorbis"

    def _entries(self, tags: Any) -> list[tuple[str, str]]:
        low = self.key.lower()
        return [(k, v) for k, v in tags if k.lower() == low]

    def get(self, tags: Any) -> list[str]:
        return [v for _k, v in self._entries(tags)]

    def set(self, tags: Any, values: list[str]) -> None:
        tags[self.key] = list(values)

    def delete(self, tags: Any) -> None:
        if self.key in tags:
            del tags[self.key]

    def snapshot(self, tags: Any) -> Snapshot:
        entries = self._entries(tags)
        return [[k, v] for k, v in entries] if entries else None

    def restore(self, tags: Any, snap: Snapshot) -> None:
        self.delete(tags)
        for k, v in snap or []:
            tags.append((k, v))


class MP4Freeform(StorageStyle):
    """A freeform atom ``----:<mean>:<name>`` holding UTF-8 text, one data atom per value."""

    kind: TagKind = "mp4"

    def __init__(self, key: str, mean: str = "com.apple.iTunes"):
        super().__init__(key)
        self.mean = mean

    @property
    def label(self) -> str:
        return f"----:{self.mean}:{self.key}"

    def get(self, tags: Any) -> list[str]:
        return [bytes(v).decode("utf-8", "replace") for v in tags.get(self.label, [])]

    def set(self, tags: Any, values: list[str]) -> None:
        tags[self.label] = [MP4FreeForm(v.encode("utf-8"), dataformat=AtomDataType.UTF8)
                            for v in values]

    def delete(self, tags: Any) -> None:
        tags.pop(self.label, None)

    def snapshot(self, tags: Any) -> Snapshot:
        values = tags.get(self.label)
        if not values:
            return None
        return [{"data": base64.b64encode(bytes(v)).decode("ascii"),
                 "dataformat": int(getattr(v, "dataformat", AtomDataType.UTF8)),
                 "version": int(getattr(v, "version", 0))} for v in values]

    def restore(self, tags: Any, snap: Snapshot) -> None:
        self.delete(tags)
        if snap:
            tags[self.label] = [MP4FreeForm(base64.b64decode(v["data"]),
                                            dataformat=v["dataformat"], version=v["version"])
                                for v in snap]


class ASFAttribute(StorageStyle):
    """A WMA/ASF attribute named by the key, one unicode attribute per value."""

    kind: TagKind = "asf"

    def _attrs(self, tags: Any) -> list[ASFBaseAttribute]:
        return [v for k, v in tags if k == self.key]

    def get(self, tags: Any) -> list[str]:
        return [str(a) for a in self._attrs(tags)]

    def set(self, tags: Any, values: list[str]) -> None:
        tags[self.key] = [ASFUnicodeAttribute(v) for v in values]

    def delete(self, tags: Any) -> None:
        if self.key in tags:
            del tags[self.key]

    def snapshot(self, tags: Any) -> Snapshot:
        attrs = self._attrs(tags)
        if not attrs:
            return None
        out = []
        for a in attrs:
            value = a.value
            if isinstance(value, bytes):
                value = {"b64": base64.b64encode(value).decode("ascii")}
            out.append({"type": a.TYPE, "value": value, "language": a.language,
                        "stream": a.stream})
        return out

    def restore(self, tags: Any, snap: Snapshot) -> None:
        self.delete(tags)
        for a in snap or []:
            value = a["value"]
            if isinstance(value, dict):
                value = base64.b64decode(value["b64"])
            tags.append((self.key, ASFValue(value, a["type"], language=a["language"],
                                            stream=a["stream"])))


@dataclass(frozen=True)
class Field:
    """One value tagger writes, with where it lives in each tag kind."""

    name: str
    doc: str
    multi: bool
    styles: tuple[StorageStyle, ...]

    def style(self, kind: TagKind) -> StorageStyle:
        for style in self.styles:
            if style.kind == kind:
                return style
        raise KeyError(f"field {self.name} has no storage for {kind} tags")


INSTRUMENTS = Field(
    "INSTRUMENTS", "the instruments present in the track (alphabetical)", multi=True,
    styles=(ID3UserText("INSTRUMENTS"), VorbisComment("INSTRUMENTS"),
            MP4Freeform("INSTRUMENTS"), ASFAttribute("INSTRUMENTS")),
)
INSTRUMENTS_LEAD = Field(
    "INSTRUMENTS_LEAD", "the instruments heard in the foreground (solo, lead)", multi=True,
    styles=(ID3UserText("INSTRUMENTS_LEAD"), VorbisComment("INSTRUMENTS_LEAD"),
            MP4Freeform("INSTRUMENTS_LEAD"), ASFAttribute("INSTRUMENTS_LEAD")),
)
INSTRUMENTS_MODEL = Field(
    "INSTRUMENTS_MODEL", "the model name and version that found them", multi=False,
    styles=(ID3UserText("INSTRUMENTS_MODEL"), VorbisComment("INSTRUMENTS_MODEL"),
            MP4Freeform("INSTRUMENTS_MODEL"), ASFAttribute("INSTRUMENTS_MODEL")),
)

FIELDS: tuple[Field, ...] = (INSTRUMENTS, INSTRUMENTS_LEAD, INSTRUMENTS_MODEL)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
