"""Human labels as training and evaluation data: ``LabeledClip``s and ``Example``s.

``tagger train --labels`` mixes these examples with its usual data and ``tagger eval`` scores
a model against ``labeled_clips``; both read the store through here, so the meaning of a label
(none -> absent, background -> present, foreground -> present and leading) is defined once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tagger.label.audio import AudioError, read_clip
from tagger.label.chunks import clip_duration_ok
from tagger.store import Store
from tagger.taxonomy import CLASSES
from tagger.train.example import Example

log = logging.getLogger(__name__)

# Each example's ``source`` is this prefix plus its track's path: one source per recording, so a
# validation split by source never hears a track it trained on (clips of one track are alike).
SOURCE_PREFIX = "labels:"


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
    cursor = store.conn.execute(
        'SELECT l.track_id, t.path_key, t.path, l.start, l."end", l.instrument, l.role'
        " FROM labels l JOIN tracks t ON t.id = l.track_id"
        ' ORDER BY l.track_id, l.start, l."end", l.labeled_at, l.id'
    )
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
            audio = read_clip(clip.path, start=clip.start, duration=clip.end - clip.start,
                              sample_rate=sample_rate)
        except (AudioError, ValueError) as exc:
            log.warning("skipping labels of %s at %.1f s: %s", clip.display_path, clip.start, exc)
            continue
        if len(audio):
            yield clip, audio
