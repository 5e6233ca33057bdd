"""The tag writer's error, apart from ``formats`` so that every tags module can raise it."""

from __future__ import annotations


class TagError(Exception):
    """One file could not be read or written; the message is one line for the user."""
