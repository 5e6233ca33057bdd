"""The model layer's error, apart from the registry so that loaders it calls can raise it."""

from __future__ import annotations

from tagger.errors import TaggerError


class ModelNotFoundError(TaggerError, LookupError):
    """No card matches a name or path; the message lists what is installed."""
