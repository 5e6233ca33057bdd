"""Your own labelled audio: ``tagger train --data DIR`` (IRMAS style) or ``--data FILE.csv``.

- ``DIR/<class>/*``: one folder per class; the folder name goes through the taxonomy (aliases
  such as ``sax`` or ``vocals``, and IRMAS's three-letter codes such as ``cla`` or ``voi``, are
  understood). A folder says its class is present and leading (IRMAS labels the predominant
  instrument) and nothing about the others, so only that class is unmasked. A folder named
  ``none`` holds clips with none of our instruments (all classes known absent).
- ``FILE.csv``: ``path,labels[,complete]``; labels separated by ``;`` or ``|``, ``:fg`` marks a
  lead (``voice:fg;piano``), ``none`` = no instrument of ours; ``complete`` = 1/true/yes says the
  labels are exhaustive (every class unmasked). Paths are relative to the CSV's folder.

Why checks up front: a typo in a folder name or an empty folder should stop ``tagger train``
before it starts, with a message that says what is valid; a corrupt file should cost a warning,
never a crash hours into training.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.discover import is_audio_name
from tagger.taxonomy import CLASSES, GROUPS, UnknownInstrumentError, resolve
from tagger.train.data.audio import AudioLoadError, load_audio, resample
from tagger.train.data.augment import AugmentConfig, Augmenter
from tagger.train.example import Example

IRMAS_CODES = {"cel": "cello", "cla": "clarinet", "flu": "flute", "gac": "acoustic_guitar",
               "gel": "electric_guitar", "org": "organ", "pia": "piano", "sax": "saxophone",
               "tru": "trumpet", "vio": "violin", "voi": "voice"}
NONE_NAMES = ("none", "_none", "negative", "other")
USER_AUGMENT = AugmentConfig(p_stem_eq=0, p_eq=0.3, p_reverb=0.1, p_bandlimit=0.1, p_noise=0.1,
                             p_compress=0.0)


class UserDataError(ValueError):
    """User data that cannot be trained on; the message names the file or folder and the fix."""


def resolve_label(name: str, classes: Sequence[str] = CLASSES) -> str | None:
    """Our class for a folder or CSV label; None for 'none'. Groups are refused (ambiguous)."""
    word = name.strip().lower()
    if word in NONE_NAMES:
        return None
    word = IRMAS_CODES.get(word, word)
    if word in GROUPS:
        raise UserDataError(f"{name!r} is a group ({', '.join(GROUPS[word])}); "
                            "label with one class")
    try:
        (cls,) = resolve(word, classes)
    except UnknownInstrumentError as exc:
        raise UserDataError(f"{exc} (IRMAS codes {', '.join(sorted(IRMAS_CODES))} and "
                            f"{'/'.join(NONE_NAMES)} also work)") from exc
    return cls


@dataclass
class Item:
    """One labelled file: classes present, leads, whether the labels are exhaustive."""

    path: Path
    present: tuple[str, ...]
    leads: tuple[str, ...]
    complete: bool
    frames: int = 0
    sample_rate: int = 0


def _probe(items: list[Item], where: str) -> list[Item]:
    """Keep files whose header reads; warn once about the rest."""
    try:
        from tagger.decode import probe
    except ImportError:  # pragma: no cover
        probe = None
    good, bad = [], []
    for it in items:
        try:
            if probe is not None:
                info = probe(str(it.path))
                it.sample_rate = info.sample_rate
                it.frames = int(info.duration_s * info.sample_rate)
            else:  # pragma: no cover
                import soundfile as sf

                info = sf.info(str(it.path))
                it.sample_rate, it.frames = info.samplerate, info.frames
            if it.frames <= 0:
                raise ValueError("no audio frames")
            good.append(it)
        except Exception as exc:  # any unreadable file is skipped, whatever the backend says
            bad.append(f"{it.path.name}: {str(exc).splitlines()[0] if str(exc) else exc}")
    if bad:
        warnings.warn(f"{where}: skipping {len(bad)} unreadable file(s), e.g. {bad[0]}",
                      stacklevel=3)
    if not good:
        raise UserDataError(f"{where}: no readable audio files")
    return good


class _FileSource:
    """Random crops of labelled files, as Examples; shared by folder and CSV sources."""

    def __init__(self, items: list[Item], where: str, *, sample_rate: int, clip_seconds: float,
                 classes: Sequence[str], augment: bool):
        self.where = where
        self.classes = tuple(classes)
        self.sr, self.n = sample_rate, int(round(clip_seconds * sample_rate))
        self.items = _probe(items, where)
        self.aug = Augmenter(sample_rate, self.n, USER_AUGMENT if augment else
                             AugmentConfig.none(), n_rooms=4)
        self._failed: set[Path] = set()

    def __len__(self) -> int:
        return len(self.items)

    def labels(self, it: Item) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = len(self.classes)
        idx = {c: i for i, c in enumerate(self.classes)}
        presence, fg = np.zeros(k, np.float32), np.zeros(k, np.float32)
        mask = np.ones(k, np.float32) if it.complete else np.zeros(k, np.float32)
        for c in it.present:
            presence[idx[c]] = mask[idx[c]] = 1.0
        for c in it.leads:
            fg[idx[c]] = 1.0
        return presence, fg, mask

    def crop(self, it: Item, rng: np.random.Generator) -> np.ndarray:
        """A random ``clip_seconds`` window (short files centred in silence)."""
        want = int(np.ceil(self.n * it.sample_rate / self.sr)) + 16
        start = int(rng.integers(0, it.frames - want + 1)) if it.frames > want else 0
        try:
            import soundfile as sf

            with sf.SoundFile(str(it.path)) as fh:
                fh.seek(start)
                x = fh.read(want, dtype="float32", always_2d=True).mean(axis=1)
            x = resample(x, fh.samplerate, self.sr)
        except Exception:  # formats libsndfile cannot seek in: decode whole, then cut
            full = load_audio(str(it.path), self.sr)
            a = int(start * self.sr / it.sample_rate)
            x = full[a : a + self.n]
        out = np.zeros(self.n, np.float32)
        x = x[: self.n]
        off = (self.n - len(x)) // 2
        out[off : off + len(x)] = x
        return out

    def examples(self, rng: np.random.Generator) -> Iterator[Example]:
        while True:
            live = [it for it in self.items if it.path not in self._failed]
            if not live:
                raise UserDataError(f"{self.where}: every file failed to decode")
            it = live[int(rng.integers(len(live)))]
            try:
                audio = self.crop(it, rng)
            except (AudioLoadError, RuntimeError, ValueError, OSError) as exc:
                self._failed.add(it.path)
                warnings.warn(f"{self.where}: skipping {it.path.name}: {exc}", stacklevel=2)
                continue
            if not np.all(np.isfinite(audio)):
                self._failed.add(it.path)
                warnings.warn(f"{self.where}: skipping {it.path.name}: non-finite samples",
                              stacklevel=2)
                continue
            audio = self.aug.mix(audio, rng) if np.any(audio) else audio
            yield Example(audio, *self.labels(it), source=f"user:{self.where}")

    def split(self, fraction: float, seed: int = 0) -> tuple["_FileSource", "_FileSource"]:
        """(train, validation) by file, deterministic for ``seed`` (user data has no sources)."""
        order = np.random.default_rng(seed).permutation(len(self.items))
        n_val = int(round(fraction * len(self.items)))
        parts = []
        for sel in (order[n_val:], order[:n_val]):
            other = object.__new__(type(self))
            other.__dict__.update(self.__dict__)
            other.items, other._failed = [self.items[i] for i in sorted(sel)], set()
            parts.append(other)
        return parts[0], parts[1]


class FolderSource(_FileSource):
    """IRMAS-style ``DIR/<class>/*`` (see module docs)."""

    def __init__(self, root: str | Path, *, sample_rate: int = 32000, clip_seconds: float = 3.0,
                 classes: Sequence[str] = CLASSES, augment: bool = True):
        root = Path(root)
        if not root.is_dir():
            raise UserDataError(f"{root}: not a folder")
        items = []
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not folders:
            raise UserDataError(f"{root}: no class folders; expected {root}/<class>/<audio files>"
                                f" with class one of {', '.join(classes)}")
        for folder in folders:
            try:
                cls = resolve_label(folder.name, classes)
            except UserDataError as exc:
                raise UserDataError(f"{folder}: {exc}") from None
            files = sorted(p for p in folder.rglob("*") if p.is_file() and is_audio_name(p.name)
                           and not any(part.startswith(".") for part in p.relative_to(root).parts))
            present = (cls,) if cls else ()
            items += [Item(f, present, present, complete=cls is None) for f in files]
        if not items:
            raise UserDataError(f"{root}: the class folders hold no audio files")
        super().__init__(items, str(root), sample_rate=sample_rate, clip_seconds=clip_seconds,
                         classes=classes, augment=augment)


class CsvSource(_FileSource):
    """``path,labels[,complete]`` rows (see module docs)."""

    def __init__(self, csv_path: str | Path, *, sample_rate: int = 32000,
                 clip_seconds: float = 3.0, classes: Sequence[str] = CLASSES,
                 augment: bool = True):
        csv_path = Path(csv_path)
        if not csv_path.is_file():
            raise UserDataError(f"{csv_path}: no such file")
        base = csv_path.parent
        items = []
        with open(csv_path, newline="", encoding="utf-8") as fh:
            for lineno, row in enumerate(csv.reader(fh), 1):
                if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                    continue
                if lineno == 1 and row[0].strip().lower() == "path":
                    continue  # header
                if len(row) < 2 or not row[1].strip():
                    raise UserDataError(f"{csv_path}:{lineno}: no labels for {row[0]!r} "
                                        "(write path,labels; use 'none' for no instrument)")
                present, leads = [], []
                for raw in row[1].replace("|", ";").split(";"):
                    if not raw.strip():
                        continue
                    word, _, flag = raw.strip().partition(":")
                    try:
                        cls = resolve_label(word, classes)
                    except UserDataError as exc:
                        raise UserDataError(f"{csv_path}:{lineno}: {exc}") from None
                    if cls:
                        present.append(cls)
                        if flag.strip().lower() == "fg":
                            leads.append(cls)
                if not leads and len(present) == 1:
                    leads = present[:]  # the only instrument named is the one heard most
                complete = len(row) > 2 and row[2].strip().lower() in ("1", "true", "yes")
                path = Path(os.path.expanduser(row[0].strip()))
                path = path if path.is_absolute() else base / path
                if not path.is_file():
                    warnings.warn(f"{csv_path}:{lineno}: missing file {path}", stacklevel=2)
                    continue
                items.append(Item(path, tuple(present), tuple(leads), complete or not present))
        if not items:
            raise UserDataError(f"{csv_path}: no usable rows (need path,labels)")
        super().__init__(items, str(csv_path), sample_rate=sample_rate,
                         clip_seconds=clip_seconds, classes=classes, augment=augment)


def user_source(path: str | Path, **kw) -> _FileSource:
    """``FolderSource`` for a folder, ``CsvSource`` for a ``.csv`` file."""
    p = Path(path)
    return CsvSource(p, **kw) if p.suffix.lower() == ".csv" else FolderSource(p, **kw)
