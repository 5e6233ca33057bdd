"""Which stored tracks a re-scan may skip, and which failures are worth trying again.

A track is skipped when its size, modification time and model match the store. A failed track
is skipped the same way only when its failure is *permanent* (a corrupt or non-audio file fails
again until the file changes); a *transient* failure (permission denied, a read error, a file
locked, missing or changing while it was read) is retried on every scan, because fixing it
(chmod, unlocking) does not change the file's size or modification time. ``--retry-errors``
retries every failed track (a decoder upgrade may read a file that failed before).
"""

from __future__ import annotations

from tagger.pipeline.discover import Candidate
from tagger.store.db import KnownTrack

# Prefixes (lower case) of the one-line errors the decoder gives for problems of the moment
# rather than of the file's content (tagger.audio.DecodeError kinds permission, io, not_found).
TRANSIENT_ERRORS: tuple[str, ...] = (
    "permission denied", "cannot read file", "file not found", "out of memory",
    "database is locked", "resource temporarily unavailable", "file changed",
)


def is_transient(error: str | None) -> bool:
    """Whether a stored error may go away without the file changing (so: retry it)."""
    text = (error or "").strip().lower()
    return any(text.startswith(p) or f": {p}" in text for p in TRANSIENT_ERRORS)


def can_skip(previous: KnownTrack | None, found: Candidate, model_id: str, *,
             retry_errors: bool = False) -> bool:
    """Whether ``found`` is unchanged since ``previous`` and its stored answer still stands;
    ``retry_errors`` (``scan --retry-errors``): no stored failure stands, permanent or not."""
    if previous is None or previous.model != model_id:
        return False
    if previous.size != found.size or previous.mtime_ns != found.mtime_ns:
        return False
    if previous.status == "ok":
        return True
    return not retry_errors and not is_transient(previous.error)
