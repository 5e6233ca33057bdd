"""One training example and the contract between the data engine and the trainer.

The data engine (rendering, real recordings, user folders, human labels) produces ``Example``s;
the trainer only ever sees ``Example``s, so any source can feed any training run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Example:
    """A labelled clip.

    ``presence[c]`` is 1 when class c sounds in the clip, ``foreground[c]`` is 1 when it leads
    (solo, lead or loudest part); ``mask[c]`` is 0 where the label is unknown (e.g. a single-label
    folder says nothing about other instruments), so the loss ignores it. ``source`` names where
    the sound came from (a SoundFont, a sample library, a recording) for validation by source.
    """

    audio: np.ndarray  # float32 mono, at the trainer's sample rate
    presence: np.ndarray  # float32 [classes]
    foreground: np.ndarray  # float32 [classes]
    mask: np.ndarray  # float32 [classes]
    source: str


class ExampleSource(Protocol):
    """Anything that can produce an endless stream of examples for a seed."""

    def examples(self, rng: np.random.Generator) -> Iterator[Example]: ...
