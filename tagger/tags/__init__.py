"""Instrument tags inside audio files: ``INSTRUMENTS``, ``INSTRUMENTS_LEAD``, ``INSTRUMENTS_MODEL``.

- :mod:`tagger.tags.fields`: each field declared once, with its storage per tag kind;
- :mod:`tagger.tags.options`: several values joined or as a list; new ID3 tags' version;
- :mod:`tagger.tags.formats`: the containers (mutagen class, save routine, audio location);
- :mod:`tagger.tags.files`: read / change / atomically rewrite one file, verified;
- :mod:`tagger.tags.backups`: what our fields replaced, kept in the store for ``--remove``;
- :mod:`tagger.tags.apply`: :func:`tag_tracks`, the store-driven loop used by the CLI and scan.
"""

from tagger.tags.apply import TagOutcome, desired_fields, summarize, tag_tracks
from tagger.tags.fields import FIELDS, Field
from tagger.tags.files import FieldChange, FileState, read_fields, update_file
from tagger.tags.formats import TagError
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions

__all__ = [
    "DEFAULT_OPTIONS",
    "FIELDS",
    "Field",
    "FieldChange",
    "FileState",
    "TagError",
    "TagOptions",
    "TagOutcome",
    "desired_fields",
    "read_fields",
    "summarize",
    "tag_tracks",
    "update_file",
]
