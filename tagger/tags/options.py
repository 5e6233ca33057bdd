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

from dataclasses import dataclass, replace
from typing import Literal


MultiValue = Literal["joined", "list"]
MULTI_VALUES: tuple[MultiValue, ...] = ("joined", "list")
ID3_VERSIONS = ("2.3", "2.4")
DEFAULT_SEPARATOR = "; "
DEFAULT_ID3_VERSION = "2.4"  # read the same as 2.3 by every reader measured (README)


@dataclass(frozen=True)
class TagOptions:
    """``multi_value``: ``joined`` (one value, items joined by ``separator``) or ``list``;
    ``None``: the layout each file already has (``list`` where a field holds several values),
    ``joined`` for a file without our fields, so re-tagging never flips a library's layout.

    ``id3_version`` (3 or 4) is the version of the ID3 tags tagger *creates* (files that had
    none); a file's existing tag keeps its version, since converting it would rewrite every
    other frame in it (dates, people lists, multi-value text).
    """

    multi_value: MultiValue | None = None
    separator: str = DEFAULT_SEPARATOR
    id3_version: int = int(DEFAULT_ID3_VERSION[-1])

    def __post_init__(self) -> None:
        if self.multi_value is not None and self.multi_value not in MULTI_VALUES:
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

    def for_file(self, stored: dict[str, list[str]]) -> TagOptions:
        """These options with ``multi_value`` settled for one file, from what it stores now."""
        if self.multi_value is not None:
            return self
        from tagger.tags.fields import FIELDS_BY_NAME

        as_list = any(FIELDS_BY_NAME[name].multi and len(values) > 1
                      for name, values in stored.items() if name in FIELDS_BY_NAME)
        return replace(self, multi_value="list" if as_list else "joined")

    def encode(self, name: str, values: list[str]) -> list[str]:
        """What the file should hold under field ``name`` for these values."""
        from tagger.tags.fields import FIELDS_BY_NAME  # loads mutagen: not at `tagger --help`

        if self.multi_value != "list" and FIELDS_BY_NAME[name].multi and values:
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
