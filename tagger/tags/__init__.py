"""Instrument tags inside audio files: ``INSTRUMENTS``, ``INSTRUMENTS_LEAD``, ``INSTRUMENTS_MODEL``.

- :mod:`tagger.tags.fields`: each field declared once, with its storage per tag kind;
- :mod:`tagger.tags.options`: several values joined or as a list; new ID3 tags' version;
- :mod:`tagger.tags.formats`: the containers (mutagen class, save routine, audio location);
- :mod:`tagger.tags.files`: read / change / atomically rewrite one file, verified;
- :mod:`tagger.tags.backups`: what our fields replaced, kept in the store for ``--remove``;
- :mod:`tagger.tags.apply`: :func:`tag_tracks`, the store-driven loop used by the CLI and scan;
- :mod:`tagger.tags.writer`: :class:`TagWriter`, which tags each batch a scan stores (``on_written``).

Names are imported on first use (PEP 562): ``import tagger.tags.fields`` loads the field
declarations only, not the store-driven loop and the database behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagger.lazy import lazy_exports

if TYPE_CHECKING:
    from tagger.tags.apply import TagOutcome, desired_fields, summarize, tag_tracks
    from tagger.tags.errors import TagError
    from tagger.tags.fields import FIELDS, Field
    from tagger.tags.files import FieldChange, FileState, read_fields, update_file
    from tagger.tags.options import DEFAULT_OPTIONS, TagOptions
    from tagger.tags.writer import TagWriter

_EXPORTS = {
    "TagOutcome": "apply", "desired_fields": "apply", "summarize": "apply", "tag_tracks": "apply",
    "FIELDS": "fields", "Field": "fields", "FieldChange": "files", "FileState": "files",
    "read_fields": "files", "update_file": "files", "TagError": "errors",
    "DEFAULT_OPTIONS": "options", "TagOptions": "options", "TagWriter": "writer",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
