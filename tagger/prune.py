"""Rows of tracks whose files are gone: find them, and remove them only when asked.

A scan only sees the files that are there, so the rows of deleted or moved files would stay in
the store (and in queries) forever. ``tagger prune`` lists or removes them. Two things are never
removed: tracks holding human labels or skips (a person's work; their audio being gone does not
make the labels wrong), and tracks whose file cannot be checked (an unreadable folder is not a
missing file).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from tagger.store.db import Store

__all__ = ["PrunePlan", "plan_prune", "apply_prune"]


@dataclass
class PrunePlan:
    """What a prune would do: (track id, display path) pairs."""

    gone: list[tuple[int, str]] = field(default_factory=list)  # to remove
    labelled: list[tuple[int, str]] = field(default_factory=list)  # gone, but kept for labels
    in_scope: int = 0  # stored tracks under the asked paths


def _vanished(key: bytes) -> bool:
    """Whether the file is certainly gone (not merely unreadable)."""
    try:
        os.stat(key)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _under(key: bytes, roots: Sequence[bytes]) -> bool:
    return not roots or any(key == r or key.startswith(r.rstrip(b"/") + b"/") for r in roots)


def plan_prune(store: Store, paths: Sequence[str | os.PathLike[str]] = ()) -> PrunePlan:
    """Stored tracks (under ``paths``, else all) whose files no longer exist."""
    roots = [os.fsencode(os.path.realpath(p)) for p in paths]
    labelled_ids = store.labelled_track_ids()
    plan = PrunePlan()
    for track in store.iter_tracks():
        key = bytes(track["path_key"])
        if not _under(key, roots):
            continue
        plan.in_scope += 1
        if _vanished(key):
            target = plan.labelled if track["id"] in labelled_ids else plan.gone
            target.append((track["id"], track["path"]))
    return plan


def apply_prune(store: Store, plan: PrunePlan) -> int:
    """Remove the plan's gone tracks (their analysis rows go with them); returns how many."""
    return store.delete_tracks(track_id for track_id, _path in plan.gone)
