"""Human labels as data: the labelled clips of a store and the target vectors a label means.

``tagger.train.humanlabels`` turns these into training and evaluation ``Example``s; both it and
anything else that reads labels come through here, so the meaning of a label (none -> absent,
background -> present, foreground -> present and leading) is defined once. Nothing here knows
about training (labeling sits below it in the import layers, docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tagger.label.clips import clip_duration_ok
from tagger.store import Store
from tagger.store.labels import labels_by_clip


@dataclass(frozen=True)
class LabeledClip:
    """One labelled stretch of a track and the role given to each instrument there."""

    track_id: int
    path: str  # filesystem path to open
    display_path: str
    start: float
    end: float
    roles: dict[str, str]  # instrument -> foreground | background | none


def labeled_clips(store: Store) -> Iterator[LabeledClip]:
    """Every labelled clip, one per (track, start, end); the newest label of an instrument wins."""
    cursor = labels_by_clip(store)
    current: tuple[int, float, float] | None = None
    info: tuple[str, str] = ("", "")
    roles: dict[str, str] = {}
    for tid, key, display, start, end, instrument, role in cursor:
        if not clip_duration_ok(start, end):
            continue
        here = (tid, start, end)
        if here != current:
            if current is not None and roles:
                yield LabeledClip(current[0], *info, current[1], current[2], roles)
            current, info, roles = here, (os.fsdecode(bytes(key)), display), {}
        roles[instrument] = role
    if current is not None and roles:
        yield LabeledClip(current[0], *info, current[1], current[2], roles)


def targets(
    roles: dict[str, str], classes: Sequence[str], *, keep_positives: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(presence, foreground, mask) vectors over ``classes`` for one clip's roles.

    Unlabelled instruments get mask 0 (unknown, not absent). With ``keep_positives`` False only
    "none" labels count: used for crops shorter than the clip, which may miss a present part.
    """
    n = len(classes)
    presence, foreground, mask = (np.zeros(n, np.float32) for _ in range(3))
    for col, name in enumerate(classes):
        role = roles.get(name)
        if role is None:
            continue
        if role == "none":
            mask[col] = 1.0
        elif keep_positives:
            presence[col] = 1.0
            foreground[col] = 1.0 if role == "foreground" else 0.0
            mask[col] = 1.0
    return presence, foreground, mask
