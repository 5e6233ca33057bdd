"""Your own labelled audio in the data engine: random augmented crops, read as they are needed.

What a folder or CSV *means* is decided by ``tagger.train.labelled`` (the one reader, shared
with ``tagger train --data``); this module only streams the files it lists. Streaming (seek and
read one crop, never decode a whole dataset into memory) is what lets hours of user audio ride
along with the rendered mixtures; a file that stops decoding mid-run costs a warning and is
dropped, never the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.audio import DecodeError, load_clip
from tagger.taxonomy import CLASSES
from tagger.train.data.augment import AugmentConfig, Augmenter
from tagger.train.example import Example
from tagger.train.labelled import (DataError, LabelledFile, Warn, draw_weights,
                                   read_labelled)

USER_AUGMENT = AugmentConfig(p_stem_eq=0, p_eq=0.3, p_reverb=0.1, p_bandlimit=0.1, p_noise=0.1,
                             p_compress=0.0)


@dataclass
class _Probed:
    """A labelled file with the length and rate its header reports (for seeking crops)."""

    file: LabelledFile
    frames: int
    sample_rate: int


def _warn_default(message: str) -> None:
    warnings.warn(message, stacklevel=4)


def _probe(files: Sequence[LabelledFile], where: str, warn: Warn) -> list[_Probed]:
    """Files whose header reads; one warning about the rest (checked before training starts)."""
    from tagger.audio import probe

    good, bad = [], []
    for f in files:
        try:
            info = probe(f.path)
            frames = int(info.duration_s * info.sample_rate)
            if frames <= 0:
                raise ValueError("no audio frames")
            good.append(_Probed(f, frames, info.sample_rate))
        except Exception as exc:  # any unreadable file is skipped, whatever the backend says
            bad.append(f"{Path(f.path).name}: {str(exc).splitlines()[0] if str(exc) else exc}")
    if bad:
        warn(f"{where}: skipping {len(bad)} unreadable file(s), e.g. {bad[0]}")
    if not good:
        raise DataError(f"{where}: no readable audio files")
    return good


class FileSource:
    """An endless ``ExampleSource`` of random ``clip_seconds`` crops of labelled files.

    ``balanced``: files are drawn with weight 1 / (files of their main class), so 500 piano
    files and 20 organ files still show the model organ often. ``gain_db``: a random gain of
    +/- that much, so loudness is not a cue (``augment`` does more: EQ, reverb, noise...).
    """

    def __init__(self, files: Sequence[LabelledFile], where: str, *, sample_rate: int,
                 clip_seconds: float, augment: bool = True, balanced: bool = False,
                 gain_db: float = 0.0, warn: Warn = _warn_default):
        self.where = where
        self.sample_rate, self.n = sample_rate, int(round(clip_seconds * sample_rate))
        self.items = _probe(files, where, warn)
        self.aug = Augmenter(sample_rate, self.n, USER_AUGMENT if augment else
                             AugmentConfig.none(), n_rooms=4)
        self.gain_db = gain_db
        # A file that fails mid-run gets weight 0: it is never drawn again.
        self.weights = draw_weights([it.file.presence for it in self.items], balanced)

    def __len__(self) -> int:
        return len(self.items)

    def crop(self, it: _Probed, rng: np.random.Generator) -> np.ndarray:
        """A random window (short files centred in silence), read by seeking where exact."""
        want = int(np.ceil(self.n * it.sample_rate / self.sample_rate)) + 16
        start = int(rng.integers(0, it.frames - want + 1)) if it.frames > want else 0
        x = load_clip(it.file.path, sample_rate=self.sample_rate,
                      start_s=start / it.sample_rate, duration_s=self.n / self.sample_rate)
        out = np.zeros(self.n, np.float32)
        x = x[: self.n]
        off = (self.n - len(x)) // 2
        out[off : off + len(x)] = x
        return out

    def examples(self, rng: np.random.Generator) -> Iterator[Example]:
        while True:
            total = self.weights.sum()
            if total <= 0:
                raise DataError(f"{self.where}: every file failed to decode")
            index = int(rng.choice(len(self.items), p=self.weights / total))
            it = self.items[index]
            name = Path(it.file.path).name
            try:
                audio = self.crop(it, rng)
            except (DecodeError, RuntimeError, ValueError, OSError) as exc:
                self.weights[index] = 0.0
                warnings.warn(f"{self.where}: skipping {name}: {exc}", stacklevel=2)
                continue
            if not np.all(np.isfinite(audio)):
                self.weights[index] = 0.0
                warnings.warn(f"{self.where}: skipping {name}: non-finite samples", stacklevel=2)
                continue
            audio = self.aug.mix(audio, rng) if np.any(audio) else audio
            if self.gain_db:
                audio = audio * np.float32(10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20))
            f = it.file
            yield Example(audio, f.presence, f.foreground, f.mask, source=f"user:{f.source}")


def user_source(path: str | Path, *, sample_rate: int = 32000, clip_seconds: float = 3.0,
                classes: Sequence[str] = CLASSES, augment: bool = True) -> FileSource:
    """A folder (``DIR/<class>/*``) or labels CSV as a stream of crops (see module docs)."""
    return FileSource(read_labelled(path, classes), str(path), sample_rate=sample_rate,
                      clip_seconds=clip_seconds, augment=augment)
