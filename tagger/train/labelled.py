"""Labelled audio a user hands to ``tagger train --data``, ``tagger eval`` or the data engine.

The one reader of user folders and CSVs: the trainer (``tagger.train.inputs``, the sweep) and
the data engine (``tagger.train.data.userdata``) both turn a spec into ``LabelledFile``s here,
so a folder or a CSV row means the same thing wherever it is used.

- **Folder**: ``DIR/<class>/.../file.ext``; the folder name is a class, an alias (``sax``,
  ``vocals``) or an IRMAS code (``cla``, ``voi``). As in IRMAS, a class folder says that its
  instrument is present and leading, and *nothing* about the others: a folder of saxophone
  recordings may well have a piano in it, so every other class is unknown (mask 0), never
  absent. A folder named ``none`` holds clips with none of our instruments (every class known
  absent): the negatives a tree of class folders cannot give. Files in a subfolder below the
  class folder share a *source* (put one recording session or artist per subfolder, so
  validation never hears a session it trained on); files directly in it are their own source.
- **CSV**: ``path,labels[,foreground][,source][,unknown]``; ``labels``, ``foreground`` and
  ``unknown`` are ``;``-separated class names (``none`` or an empty cell: no instrument of
  ours). Labels are explicit: a class not listed is absent, except the ``unknown`` ones, which
  are masked out of the loss and the metrics. A row naming one instrument and no foreground
  has it leading (it is what is heard most). Paths are relative to the CSV's folder.

Bad input fails early with one line that says what to fix (unknown class folder, no audio,
missing column); an undecodable file is a warning and is skipped, not the end of a run.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.pipeline.discover import is_audio_name
from tagger.errors import TaggerError
from tagger.taxonomy import UnknownInstrumentError, normalize, resolve
from tagger.train.example import Example

Warn = Callable[[str], None]

# IRMAS's three-letter folder names, so its training set is a --data folder as it comes.
IRMAS_CODES = {"cel": "cello", "cla": "clarinet", "flu": "flute", "gac": "acoustic_guitar",
               "gel": "electric_guitar", "org": "organ", "pia": "piano", "sax": "saxophone",
               "tru": "trumpet", "vio": "violin", "voi": "voice"}
NONE_NAMES = ("none", "_none", "negative", "other")


class DataError(TaggerError, ValueError):
    """Labelled data that cannot be used; the message names the file or folder and the fix."""


@dataclass
class LabelledFile:
    """One labelled file before decoding."""

    path: str
    presence: np.ndarray
    foreground: np.ndarray
    mask: np.ndarray
    source: str


def _class_of(word: str, classes: Sequence[str], where: str) -> int | None:
    """The column of a folder name or CSV label; None for a "no instrument" word."""
    key = normalize(word)
    if key in NONE_NAMES:
        return None
    try:
        names = resolve(IRMAS_CODES.get(key, key), classes)
    except UnknownInstrumentError as exc:
        raise DataError(f"{where}: {exc} (IRMAS codes {', '.join(sorted(IRMAS_CODES))} and "
                        f"{'/'.join(NONE_NAMES)} also work)") from None
    if len(names) != 1:
        raise DataError(f"{where}: {word!r} is a group ({', '.join(names)}); name one class")
    return list(classes).index(names[0])


def read_folder(root: Path, classes: Sequence[str]) -> list[LabelledFile]:
    """Files of a ``DIR/<class>/...`` tree, sorted, labelled by their class folder."""
    out: list[LabelledFile] = []
    n = len(classes)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root}: no class folders; expected {root}/<class>/<audio files> with "
                        f"classes such as {', '.join(list(classes)[:4])}...")
    for class_dir in class_dirs:
        c = _class_of(class_dir.name, classes, f"class folder {class_dir}")
        presence = np.zeros(n, dtype=np.float32)
        mask = np.ones(n, dtype=np.float32) if c is None else np.zeros(n, dtype=np.float32)
        if c is not None:
            presence[c] = mask[c] = 1.0
        for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(class_dir)
            for name in sorted(filenames):
                if name.startswith(".") or not is_audio_name(name):
                    continue
                source = (f"{class_dir.name}/{rel.parts[0]}" if rel.parts
                          else f"{class_dir.name}/{Path(name).stem}")
                out.append(LabelledFile(os.path.join(dirpath, name), presence.copy(),
                                        presence.copy(), mask.copy(), source))
    if not out:
        raise DataError(f"no audio files in {root}: expected {root}/<class>/<file> "
                        f"with classes such as {', '.join(list(classes)[:4])}...")
    return out


def _names(cell: str | None) -> list[str]:
    return [w for w in (part.strip() for part in (cell or "").replace("|", ";").split(";")) if w]


def read_csv(path: Path, classes: Sequence[str]) -> list[LabelledFile]:
    """Rows of a labels CSV; see the module docstring for the columns."""
    n = len(classes)
    out: list[LabelledFile] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = {normalize(c) for c in reader.fieldnames or []}
        if not {"path", "labels"} <= columns:
            raise DataError(f"{path}: needs columns 'path' and 'labels' (found: "
                            f"{', '.join(sorted(columns)) or 'none'})")
        for line, raw in enumerate(reader, start=2):
            row = {normalize(k): v for k, v in raw.items() if k}
            where = f"{path}, line {line}"
            if not (row.get("path") or "").strip():
                raise DataError(f"{where}: empty path")
            vectors = {}
            for key in ("labels", "foreground", "unknown"):
                vec = np.zeros(n, dtype=np.float32)
                for word in _names(row.get(key)):
                    col = _class_of(word, classes, where)
                    if col is not None:
                        vec[col] = 1.0
                vectors[key] = vec
            present, leads = vectors["labels"], vectors["foreground"] * vectors["labels"]
            if not leads.any() and present.sum() == 1:
                leads = present.copy()  # the only instrument named is the one heard most
            file = (path.parent / Path(row["path"].strip()).expanduser()).as_posix()
            out.append(LabelledFile(file, present, leads, 1.0 - vectors["unknown"],
                                    (row.get("source") or "").strip() or Path(file).stem))
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def read_labelled(spec: str | os.PathLike[str], classes: Sequence[str]) -> list[LabelledFile]:
    """A folder or CSV of labelled audio (see the module docstring)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return read_folder(path, classes)
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_csv(path, classes)
    if path.exists():
        raise DataError(f"{path}: labelled data is a folder of class folders or a .csv file")
    raise DataError(f"{path}: no such folder or CSV file")


def decode_files(files: Sequence[LabelledFile], sample_rate: int, *, warn: Warn = print
                 ) -> list[Example]:
    """Decode each file to mono at ``sample_rate``; files that fail are reported and skipped."""
    from tagger.audio.decode import DecodeError, decode

    out = []
    for f in files:
        try:
            audio = decode(f.path, sample_rate=sample_rate)
        except (DecodeError, OSError) as exc:
            warn(f"skipped {f.path}: {exc}")
            continue
        if len(audio) == 0:
            warn(f"skipped {f.path}: no audio samples")
            continue
        out.append(Example(audio, f.presence, f.foreground, f.mask, f.source))
    return out


def fit_length(audio: np.ndarray, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Exactly ``n`` samples: a (random, if ``rng``) crop of a longer clip, zero-padded if shorter."""
    if len(audio) > n:
        start = int(rng.integers(0, len(audio) - n + 1)) if rng is not None else 0
        return audio[start : start + n]
    if len(audio) < n:
        return np.pad(audio, (0, n - len(audio)))
    return audio


def draw_weights(presences: Sequence[np.ndarray], balanced: bool) -> np.ndarray:
    """Draw weight per item: 1 / (items sharing its main class) when ``balanced``, else 1."""
    primary = [int(np.argmax(p)) if p.any() else -1 for p in presences]
    counts = {k: primary.count(k) for k in set(primary)}
    return np.array([1.0 / counts[k] if balanced else 1.0 for k in primary])


class ClipSource:
    """An endless ``ExampleSource`` of random windows from decoded clips, class-balanced.

    Balanced so a folder with 500 piano files and 20 organ files still shows the model organ
    often; random gain (+/- 6 dB) so loudness is not a cue.
    """

    def __init__(self, clips: Sequence[Example], window: int, *, balanced: bool = True,
                 gain_db: float = 6.0):
        if not clips:
            raise DataError("no usable clips to train on")
        self.clips = list(clips)
        self.window = window
        self.gain_db = gain_db
        weights = draw_weights([c.presence for c in self.clips], balanced)
        self.p = weights / weights.sum()

    def examples(self, rng: np.random.Generator) -> Iterator[Example]:
        while True:
            clip = self.clips[int(rng.choice(len(self.clips), p=self.p))]
            gain = np.float32(10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20))
            audio = fit_length(clip.audio, self.window, rng) * gain
            yield Example(audio.astype(np.float32), clip.presence, clip.foreground, clip.mask,
                          clip.source)


def source_folds(items: Sequence[LabelledFile | Example], k: int, seed: int) -> list[list[int]]:
    """Split item indices into ``k`` folds so that no source straddles two folds.

    Stratified: sources are taken class by class (by their first item's main class), each going
    to the fold holding fewest items of that class, so every fold sees every class it can.
    """
    by_source: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_source.setdefault(item.source, []).append(i)
    if len(by_source) < k:
        raise DataError(f"{k} folds need at least {k} sources; the data has {len(by_source)} "
                        "(put recordings in subfolders per source, or use fewer folds)")
    names = sorted(by_source)
    np.random.default_rng(seed).shuffle(names)

    def main_class(name: str) -> int:
        presence = items[by_source[name][0]].presence
        return int(np.argmax(presence)) if presence.any() else -1

    names.sort(key=main_class)  # stable: grouped by class, shuffled within a class
    folds: list[list[int]] = [[] for _ in range(k)]
    per_class = [dict[int, int]() for _ in range(k)]
    for name in names:
        c = main_class(name)
        f = min(range(k), key=lambda j: (per_class[j].get(c, 0), len(folds[j])))
        folds[f].extend(by_source[name])
        per_class[f][c] = per_class[f].get(c, 0) + len(by_source[name])
    return [sorted(f) for f in folds]


def holdout_split(items: Sequence[LabelledFile | Example], fraction: float, seed: int
                  ) -> tuple[list[int], list[int]]:
    """(train, validation) indices with about ``fraction`` of the items held out, by source."""
    if fraction <= 0:
        return list(range(len(items))), []
    k = max(2, int(round(1 / fraction)))
    try:
        folds = source_folds(items, k, seed)
    except DataError:
        return list(range(len(items))), []
    held = set(folds[0])
    return [i for i in range(len(items)) if i not in held], sorted(held)
