"""The tag writer's error, apart from ``formats`` so that every tags module can raise it."""

from __future__ import annotations

from tagger.errors import TaggerError


class TagError(TaggerError):
    """One file could not be read or written; the message is one line for the user."""
