"""How several values of one field are laid out in a file, and which ID3 version new tags get.

Measured with the readers people use (README "What other programs see"): a list stored the
native way (NUL-separated ``TXXX`` text, repeated Vorbis keys, several MP4 data atoms, several
ASF attributes) is read whole by mutagen, beets and Picard, but ffprobe shows only the first
value of every format except Vorbis, and exiftool only the first (ID3) or the last (Vorbis,
without ``-a``). One value with the items joined by ``"; "`` is shown whole by all of them,
so that is the default (``joined``); ``list`` keeps one value per item for tools that want it.

Reading accepts both layouts whatever the options say: a stored value is split on the
separator, so files tagged either way (and by older tagger versions, which wrote lists) read
back as the same list of instruments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


MultiValue = Literal["joined", "list"]
MULTI_VALUES: tuple[MultiValue, ...] = ("joined", "list")
ID3_VERSIONS = ("2.3", "2.4")
DEFAULT_SEPARATOR = "; "


@dataclass(frozen=True)
class TagOptions:
    """``multi_value``: ``joined`` (one value, items joined by ``separator``) or ``list``.

    ``id3_version`` (3 or 4) is the version of the ID3 tags tagger *creates* (files that had
    none); a file's existing tag keeps its version, since converting it would rewrite every
    other frame in it (dates, people lists, multi-value text).
    """

    multi_value: MultiValue = "joined"
    separator: str = DEFAULT_SEPARATOR
    id3_version: int = 4

    def __post_init__(self) -> None:
        if self.multi_value not in MULTI_VALUES:
            raise ValueError(
                f"multi-value layout must be joined or list (got {self.multi_value!r})")
        if not self.separator.strip():
            raise ValueError("the separator needs a visible character (e.g. '; ')")
        if any(c.isalnum() or c in "_-\0" for c in self.separator):
            # instrument names are letters, digits and '_' (acoustic_guitar): '_' would split them
            raise ValueError(f"the separator {self.separator!r} can be part of a value: use "
                             "punctuation such as '; ', ' / ' or ', '")
        if self.id3_version not in (3, 4):
            raise ValueError(f"ID3 version must be 2.3 or 2.4 (got 2.{self.id3_version})")

    def encode(self, name: str, values: list[str]) -> list[str]:
        """What the file should hold under field ``name`` for these values."""
        from tagger.tags.fields import FIELDS_BY_NAME  # loads mutagen: not at `tagger --help`

        if self.multi_value == "joined" and FIELDS_BY_NAME[name].multi and values:
            return [self.separator.join(values)]
        return list(values)

    def decode(self, name: str, stored: list[str]) -> list[str]:
        """The values a file's stored text means (either layout)."""
        from tagger.tags.fields import FIELDS_BY_NAME

        if not FIELDS_BY_NAME[name].multi:
            return list(stored)
        sep = self.separator.strip()
        return [part.strip() for value in stored for part in value.split(sep) if part.strip()]


DEFAULT_OPTIONS = TagOptions()


def parse_id3_version(text: str) -> int:
    """``"2.3"``/``"2.4"`` (or ``3``/``4``) as the minor version number; ValueError otherwise."""
    cleaned = text.strip().lower().removeprefix("v").removeprefix("id3v")
    if cleaned in ("2.3", "3"):
        return 3
    if cleaned in ("2.4", "4"):
        return 4
    raise ValueError(f"ID3 version must be 2.3 or 2.4 (got {text!r})")
