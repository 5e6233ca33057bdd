"""Human labels from ``tagger label`` as a training source and as an evaluation set.

``tagger train --labels`` mixes them into the usual data (``labels_weight`` of the draws, so a
few hundred labelled clips steer the model without drowning the data it learned from, which
would make it forget what the labels do not cover) and validates on labelled tracks it does
not train on; ``tagger eval MODEL labels`` scores a model on every labelled clip. Both read the
store through ``tagger.label.dataset`` (``labeled_clips``, ``targets``), so a label means the same
thing in either: an instrument nobody labelled in a clip is unknown (masked), never absent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tagger.audio import DecodeError, load_clip
from tagger.config import resolve_db_path
from tagger.label.dataset import LabeledClip, labeled_clips, targets
from tagger.store import Store, StoreError
from tagger.taxonomy import CLASSES
from tagger.train.config import TrainConfig
from tagger.train.example import Example
from tagger.train.labelled import ClipSource, DataError, Warn, holdout_split

log = logging.getLogger(__name__)

LABELS_SET = "labels"  # the DATA name of the human labels in --data-like places
# Each example's ``source`` is this prefix plus its track's path: one source per recording, so a
# validation split by source never hears a track it trained on (clips of one track are alike).
SOURCE_PREFIX = "labels:"


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


def labeled_examples(
    store: Store,
    *,
    sample_rate: int,
    window_s: float,
    classes: Sequence[str] = CLASSES,
    min_cover: float = 0.5,
    tracks: Container[int] | None = None,
) -> Iterator[Example]:
    """``Example``s of ``window_s`` seconds at ``sample_rate`` from every labelled clip.

    A clip no longer than the window becomes one example, zero-padded after the audio (silence
    adds no instrument, so the labels still hold). A longer clip is tiled into windows: "none"
    holds in every tile; "present" is kept only in tiles covering at least ``min_cover`` of the
    clip, since a short tile may miss the part where the instrument plays. Clips whose file can
    no longer be read are logged and left out: stale labels must not stop a training run.
    ``tracks`` keeps only clips of those track ids (a split by track: training never hears a
    track its validation clips come from).
    """
    if sample_rate <= 0 or window_s <= 0:
        raise ValueError("sample_rate and window_s must be positive")
    window = int(round(window_s * sample_rate))
    for clip, audio in _clip_audio(store, sample_rate, classes, tracks):
        length = clip.end - clip.start
        source = SOURCE_PREFIX + clip.display_path
        if len(audio) <= window:
            padded = np.zeros(window, np.float32)
            padded[: len(audio)] = audio
            yield Example(padded, *targets(clip.roles, classes), source=source)
            continue
        keep = window_s >= min_cover * length
        starts = list(range(0, len(audio) - window + 1, window))
        if starts[-1] + window < len(audio):
            starts.append(len(audio) - window)  # last tile flush with the end: nothing unheard
        for first in starts:
            yield Example(audio[first : first + window].copy(),
                          *targets(clip.roles, classes, keep_positives=keep), source=source)


def labeled_clip_set(
    store: Store,
    *,
    sample_rate: int,
    classes: Sequence[str] = CLASSES,
    tracks: Container[int] | None = None,
) -> list[Example]:
    """One ``Example`` per labelled clip, its whole audio unpadded: for scoring, not training.

    A model is judged on a clip the way a scan judges a track (its own windows, max over them),
    so the clip-level labels are compared with a clip-level score; tiling into training windows
    (``labeled_examples``) would invent per-window labels the person never gave.
    """
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    return [Example(audio, *targets(clip.roles, classes), source=SOURCE_PREFIX + clip.display_path)
            for clip, audio in _clip_audio(store, sample_rate, classes, tracks)]


def _clip_audio(
    store: Store, sample_rate: int, classes: Sequence[str], tracks: Container[int] | None
) -> Iterator[tuple[LabeledClip, np.ndarray]]:
    """Labelled clips that name one of ``classes`` (in ``tracks``, if given) with their samples;
    unreadable ones are logged and skipped."""
    for clip in labeled_clips(store):
        if tracks is not None and clip.track_id not in tracks:
            continue
        if not any(name in clip.roles for name in classes):
            continue
        try:
            audio = load_clip(clip.path, sample_rate=sample_rate, start_s=clip.start,
                              duration_s=clip.end - clip.start)
        except (DecodeError, ValueError) as exc:
            log.warning("skipping labels of %s at %.1f s: %s", clip.display_path, clip.start, exc)
            continue
        if len(audio):
            yield clip, audio
