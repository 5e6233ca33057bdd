"""Tag files while they are scanned: ``scan(paths, store=s, on_written=TagWriter(s))``.

The scan calls ``on_written`` with each batch of tracks right after committing it, so a file
gets its fields within seconds of being analysed and an interrupted scan leaves every stored
track tagged. The loop is :func:`tagger.tags.apply.tag_tracks`, the same as ``tagger tag``.
"""

from __future__ import annotations

from collections.abc import Callable

from tagger.store import Store, TrackResult
from tagger.tags.apply import TagOutcome, tag_tracks
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions


class TagWriter:
    """Writes our fields into each committed batch's files; counts what it wrote and what failed.

    ``on_error`` is called with each failed outcome (the file is as it was): the CLI prints it
    as one line, a library user may log or collect it. Tracks whose scan failed are left alone.
    """

    def __init__(self, store: Store, *, options: TagOptions = DEFAULT_OPTIONS,
                 on_error: Callable[[TagOutcome], None] | None = None):
        self.store = store
        self.options = options
        self.on_error = on_error
        self.written = 0
        self.failed = 0

    def __call__(self, results: list[TrackResult]) -> None:
        scanned = [r for r in results if r.status == "ok"]
        for outcome in tag_tracks(self.store, scanned, options=self.options):
            if outcome.failed:
                self.failed += 1
                if self.on_error is not None:
                    self.on_error(outcome)
            elif outcome.status == "changed":
                self.written += 1
