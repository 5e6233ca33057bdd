"""Human labels from ``tagger label`` as a training source and as an evaluation set.

``tagger train --labels`` mixes them into the usual data (``labels_weight`` of the draws, so a
few hundred labelled clips steer the model without drowning the data it learned from, which
would make it forget what the labels do not cover) and validates on labelled tracks it does
not train on; ``tagger eval MODEL labels`` scores a model on every labelled clip. Both read the
store through ``tagger.label.dataset``, so a label means the same thing in either: an
instrument nobody labelled in a clip is unknown (masked), never absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tagger.config import resolve_db_path
from tagger.label.dataset import labeled_clip_set, labeled_clips, labeled_examples, targets
from tagger.store import Store, StoreError
from tagger.train.config import TrainConfig
from tagger.train.example import Example
from tagger.train.labelled import ClipSource, DataError, Warn, holdout_split

LABELS_SET = "labels"  # the DATA name of the human labels in --data-like places


@dataclass
class LabelInputs:
    """What ``--labels`` adds to a run: a training source, held-out clips, the card's record."""

    source: ClipSource | None
    validation: list[Example] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Clip:
    """A labelled clip before decoding, shaped for ``holdout_split`` (source + presence)."""

    track_id: int
    source: str
    presence: np.ndarray


def open_label_store(db: str | os.PathLike[str] | None) -> Store:
    """The store holding the labels; a missing file is an error here, never a new empty store."""
    path = resolve_db_path(db)
    if not path.is_file():
        raise DataError(f"no database at {path} (run `tagger scan` and `tagger label` first, "
                        "or pass --db)")
    try:
        return Store(path)
    except StoreError as exc:
        raise DataError(str(exc)) from None


def _no_labels(store: Store, classes: list[str]) -> DataError:
    return DataError(f"no human labels for this model's classes in {store.path} "
                     f"(label clips with `tagger label --db {store.path}` first)")


def label_eval_set(db: str | os.PathLike[str] | None, classes: list[str], sample_rate: int
                   ) -> list[Example]:
    """Every labelled clip, whole, for ``tagger eval MODEL labels``; an error if there are none."""
    with open_label_store(db) as store:
        clips = labeled_clip_set(store, sample_rate=sample_rate, classes=classes)
        if not clips:
            raise _no_labels(store, classes)
    return clips


def open_label_inputs(config: TrainConfig, rate: int, hold_out: float, *, warn: Warn = print
                      ) -> LabelInputs:
    """The human labels split by track: training windows at ``rate``, whole held-out clips at
    the student's rate (scored as ``tagger eval`` scores them)."""
    with open_label_store(config.labels_db) as store:
        clips = [_Clip(c.track_id, c.display_path, targets(c.roles, config.classes)[0])
                 for c in labeled_clips(store) if any(n in c.roles for n in config.classes)]
        if not clips:
            raise _no_labels(store, config.classes)
        train_idx, val_idx = holdout_split(clips, hold_out, config.seed)
        if hold_out > 0 and not val_idx:
            warn(f"human labels: too few labelled tracks ({len({c.source for c in clips})}) to "
                 "hold any out for validation; training on all of them")
        train_tracks = {clips[i].track_id for i in train_idx}
        val_tracks = {clips[i].track_id for i in val_idx}
        examples = list(labeled_examples(store, sample_rate=rate, window_s=config.window_s,
                                         classes=config.classes, tracks=train_tracks))
        validation = (labeled_clip_set(store, sample_rate=config.sample_rate,
                                       classes=config.classes, tracks=val_tracks)
                      if val_tracks else [])
        path = Path(store.path).resolve()
    if not examples:
        raise DataError(f"none of the labelled clips in {path} could be read (files moved?)")
    record = {"data": str(path), "kind": "human labels", "clips": len(clips),
              "train_clips": len(train_idx), "validation_clips": len(val_idx),
              "tracks": len({c.track_id for c in clips}), "weight": config.labels_weight,
              "licence": "the user's own labels"}
    return LabelInputs(ClipSource(examples, int(round(config.window_s * rate))), validation,
                       record)
