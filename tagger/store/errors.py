"""The store's errors, each worth one line to the user."""

from tagger.errors import TaggerError


class StoreError(TaggerError):
    """A store problem worth one line to the user (not a database, disk full, locked...)."""


class StoreDamagedError(StoreError):
    """The store file is damaged (corrupt pages); ``str()`` says what to do about it."""
