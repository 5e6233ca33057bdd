"""``tagger scan --write-tags``: tag each batch of tracks right after it is stored."""

from __future__ import annotations

from tagger.cli.common import error_line, err_console
from tagger.store import Store, TrackResult, path_key
from tagger.store.lookups import track_id_for_key
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions


class TagWriterHook:
    """Called by the scanner after each committed batch; writes tags, reports failures."""

    def __init__(self, store: Store, *, quiet: bool, options: TagOptions = DEFAULT_OPTIONS):
        self.store = store
        self.options = options
        self.quiet = quiet
        self.written = 0
        self.failed = 0

    def __call__(self, results: list[TrackResult]) -> None:
        from tagger.tags.apply import tag_tracks

        keys = [path_key(r.path) for r in results if r.status == "ok"]
        ids = [i for i in (track_id_for_key(self.store, key) for key in keys) if i is not None]
        for outcome in tag_tracks(self.store, ids, options=self.options):
            if outcome.failed:
                self.failed += 1
                err_console.print(error_line(outcome.path, f"tags not written: {outcome.error}"),
                                  soft_wrap=True)
            elif outcome.status == "changed":
                self.written += 1
