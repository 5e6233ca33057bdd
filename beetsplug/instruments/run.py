"""``beet instruments``: analyse beets items with tagger's scanner, store the answers on them.

Imported only when the command runs, so every other ``beet`` command starts without torch.
Everything goes through tagger's library API: :func:`tagger.scan` (unchanged files are
skipped by the store's size/mtime/model check), :func:`tagger.tags.desired_fields` (what the
fields should say) and, with ``-w``, :func:`tagger.tags.tag_tracks` (the verified atomic
writer). A bad file is one error line; the run goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from beets import ui
from beets.util import displayable_path

from tagger.config import resolve_db_path
from tagger import ScanOptions, ScanProgress, scan
from tagger.store import Store, StoreError, path_key
from tagger.tags import TagOptions, desired_fields, tag_tracks
from tagger.tags.fields import FIELDS_BY_NAME


class _LogProgress(ScanProgress):
    """Scanner callbacks as beets output: what will be analysed, one line per file that failed."""

    def __init__(self, log: logging.Logger):
        self.log = log

    def planned(self, to_scan: int, skipped: int) -> None:
        if to_scan:  # a long scan should not start silently
            ui.print_(f"instruments: analysing {to_scan} file(s) ({skipped} unchanged)...")

    def track_done(self, path: str, audio_s: float, error: str | None) -> None:
        if error:
            self.log.error("{}: {}", displayable_path(path), error)

    def problem(self, path: str, message: str) -> None:
        self.log.error("{}: {}", displayable_path(path), message)

    def notice(self, message: str) -> None:
        self.log.info("{}", message)


def _set_fields(item: Any, values: dict[str, list[str]]) -> bool:
    """Put tagger's answers on a beets item; True when something changed."""
    from beetsplug.instruments import BEETS_FIELDS

    changed = False
    for name, field in BEETS_FIELDS.items():
        new: Any = values[field.name]
        if not FIELDS_BY_NAME[field.name].multi:
            new = new[0] if new else ""
        if item.get(name) != new:
            item[name] = new
            changed = True
    return changed


def analyse_items(items: Iterable[Any], *, log: logging.Logger, db: str | None,
                  model: str | None, force: bool, write: bool, options: TagOptions) -> int:
    """Scan the items' files, set their fields (``write``: and tag the files); failures."""
    from tagger.model.registry import ModelNotFoundError

    by_path = {os.fsdecode(item.path): item for item in items}
    if not by_path:
        ui.print_("instruments: no items match")
        return 0
    try:
        store = Store(resolve_db_path(db))
    except StoreError as exc:
        raise ui.UserError(f"instruments: {exc}") from None
    with store:
        try:
            report = scan(list(by_path), store=store, options=ScanOptions(model=model, force=force),
                          progress=_LogProgress(log))
        except ModelNotFoundError as exc:
            raise ui.UserError(f"instruments: {exc}") from None
        for path, error in report.unchanged_errors:
            log.error("{}: {} (unchanged since it failed; -f retries it)",
                      displayable_path(path), error)
        failed = report.failed + len(report.problems) + len(report.unchanged_errors)
        updated, ids = 0, {}
        for path, item in by_path.items():
            row = store.find_track(path)
            if row is None or bytes(row["path_key"]) != path_key(os.path.realpath(path)):
                continue  # reported by the scan (missing, unreadable path)
            if row["status"] != "ok":
                continue  # reported above
            ids[row["id"]] = item
            if _set_fields(item, desired_fields(store, row["id"], row["model"])):
                item.store()
                updated += 1
        written = 0
        if write:
            for outcome in tag_tracks(store, list(ids), options=options):
                item = ids[outcome.track_id]
                if outcome.failed:
                    failed += 1
                    log.error("{}: tags not written: {}", displayable_path(item.path),
                              outcome.error)
                elif outcome.status == "changed":
                    written += 1
                    item.mtime = item.current_mtime()  # beets' own record of the file's state
                    item.store()
    ui.print_(f"instruments: {report.scanned} analysed, {report.skipped} unchanged,"
              f" {failed} failed; {updated} item(s) updated"
              + (f", tags written to {written} file(s)" if write else "")
              + f" [model {report.model}]")
    return failed
