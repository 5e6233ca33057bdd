"""Real recordings from ``../shared/data/real`` (manifest-driven) turned into stems.

Why a manifest and not folder names: the manifest says per file which source it came from (for
holding whole sources out), what it is (our class, a broader family, or nothing of ours) and its
licence (for the model card). Broader families become distractors: a trombone is a clear "not a
trumpet", while a bass clarinet or a snare-drum roll masks the class it might count as.
Recordings whose licence is non-commercial or unclear are kept out of training by default and
used only to check the model.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.real_recordings import data_dir, is_reserved
from tagger.taxonomy import CLASSES
from tagger.train.data.audio import CACHE_SR, load_many, trim_silence
from tagger.train.data.sampler import DECAYING, Sample, drum_phrase, parse_pitch, phrase
from tagger.train.data.stems import Stem, make_stem

REAL_VERSION = 2
# $TAGGER_REAL_DATA, else ../shared/data/real next to the checkout (read once, at import).
DEFAULT_REAL_ROOT = data_dir()
FIXTURE_SOURCE = "mirdata test fixtures"  # real polyphonic excerpts: checking only, never training
# fine-label words that make a broad-family recording a near miss of one of our classes
_NEAR = {"bass clarinet": ("clarinet",), "bass_clarinet": ("clarinet",), "snare": ("drums",),
         "bass drum": ("drums",), "tenor drum": ("drums",), "cymbal": ("drums",),
         "tom": ("drums",), "electric_piano": ("piano", "synth")}
# guitarsounds names files by string (E6 = low E), not by pitch.
_GUITAR_STRINGS = {"E6": 40, "A5": 45, "D4": 50, "G3": 55, "B2": 59, "E1": 64}


@dataclass(frozen=True)
class Recording:
    """One manifest row, resolved: absolute path, our labels, and whether it may train."""

    path: Path
    rel: str
    source: str
    fine_label: str
    label: str
    kind: str  # note | phrase | excerpt
    licence: str
    classes: tuple[str, ...]
    masked: tuple[str, ...]

    @property
    def restricted(self) -> bool:
        """Non-commercial or unclear licence: evaluation only unless explicitly allowed."""
        lic = self.licence.lower()
        return "-nc" in lic or "non-commercial" in lic or "no repo license" in lic

    @property
    def fixture(self) -> bool:
        return self.source == FIXTURE_SOURCE

    @property
    def group(self) -> str:
        """Instrument folder (``philharmonia/cello``): one sampler or phrase chain per group.

        Orchestral percussion comes in dozens of tiny folders; they are pooled into drum-like
        (masked "drums") and other, since those two differ in labels and nothing else does.
        """
        folder = Path(self.rel).parent
        if self.label == "percussion":
            return f"{folder.parent}/{'drum-like' if self.masked else 'other'}"
        return str(folder)


def labels_for(label: str, fine_label: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(classes, masked) for a manifest label; broad families give () plus near misses."""
    if label in CLASSES:
        return (label,), ()
    fine = fine_label.lower().replace("-", " ")
    masked: set[str] = set()
    for word, near in _NEAR.items():
        if word in fine or word == label:
            masked.update(near)
    return (), tuple(sorted(masked))


def read_manifest(root: str | Path = DEFAULT_REAL_ROOT) -> list[Recording]:
    """All rows of ``root/manifest.csv`` whose file exists (one row per path)."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.exists():
        return []
    rows, seen = [], set()
    with open(manifest, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["path"] in seen or not (root / r["path"]).exists():
                continue
            seen.add(r["path"])
            classes, masked = labels_for(r["label"].strip(), r["fine_label"])
            rows.append(Recording(root / r["path"], r["path"], r["source"], r["fine_label"],
                                  r["label"].strip(), r["kind"], r["license"], classes, masked))
    return rows


def training_groups(rows: list[Recording], *, allow_restricted: bool = False
                    ) -> dict[str, list[Recording]]:
    """Rows usable for training stems, by instrument folder: fixtures and every source the
    real-music benchmark reserves (``tagger.real_recordings.is_reserved``) never train."""
    groups: dict[str, list[Recording]] = defaultdict(list)
    for r in rows:
        if r.fixture or is_reserved(r.source) or (r.restricted and not allow_restricted):
            continue
        groups[r.group].append(r)
    return dict(sorted(groups.items()))


def group_recipe(name: str, rows: list[Recording]) -> dict:
    """Cache recipe for one group: file identities, so changed data re-renders."""
    files = sorted((r.rel, r.path.stat().st_size) for r in rows)
    return {"kind": "real", "v": REAL_VERSION, "group": name, "files": files}


def _load(rows: list[Recording]) -> list[tuple[Recording, np.ndarray]]:
    loaded = load_many([str(r.path) for r in rows], CACHE_SR, what=f"recordings in {rows[0].group}"
                       ) if rows else []
    out = []
    for i, x in loaded:
        x = trim_silence(x, CACHE_SR, db=-60)
        if len(x) > CACHE_SR // 20:
            out.append((rows[i], x))
    return out


def _chains(items: list[np.ndarray], rng: np.random.Generator, *, seconds: float = 24.0
            ) -> list[np.ndarray]:
    """Concatenate clips (with short silences) into stems of about ``seconds``."""
    order = rng.permutation(len(items))
    chains, cur, n = [], [], 0
    for i in order:
        gap = np.zeros(int(rng.uniform(0.15, 1.0) * CACHE_SR), np.float32)
        cur += [items[i], gap]
        n += len(items[i]) + len(gap)
        if n >= seconds * CACHE_SR:
            chains.append(np.concatenate(cur))
            cur, n = [], 0
    if cur:
        chains.append(np.concatenate(cur))
    return chains


def _auto_kit(clips: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Roles for unnamed drum hits by brightness: darkest = kick, brightest = hats."""
    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x[: CACHE_SR // 2], n=4096))
        return float((spec * np.arange(len(spec))).sum() / (spec.sum() + 1e-9))
    order = sorted(clips, key=centroid)
    n = len(order)
    return {"kick": order[: max(1, n // 5)], "tom_low": order[n // 5 : 2 * n // 5] or order[:1],
            "snare": order[2 * n // 5 : 3 * n // 5] or order[:1],
            "crash": order[3 * n // 5 : 4 * n // 5] or order[-1:], "hat": order[4 * n // 5 :]}


def group_stems(name: str, rows: list[Recording], rng: np.random.Generator) -> list[Stem]:
    """Stems for one instrument folder: phrase chains and sampler phrases from its notes."""
    loaded = _load(rows)
    if not loaded:
        return []
    first = loaded[0][0]
    classes, masked = first.classes, first.masked
    licence = "; ".join(sorted({r.licence for r, _ in loaded}))
    meta = dict(classes=classes, masked=masked, source=first.source, family=first.source,
                licence=licence, role="solo")
    stems: list[Stem] = []
    phrases = [x for r, x in loaded if r.kind in ("phrase", "excerpt")]
    notes = [(r, x) for r, x in loaded if r.kind == "note"]
    for chain in _chains(phrases, rng):
        stems.append(make_stem(chain, origin=f"{name}: real phrases", **meta))
    if not notes:
        return stems
    cls = classes[0] if classes else ""
    fine = first.fine_label.lower()
    if cls == "drums":
        kit = _auto_kit([x for _, x in notes])
        for _ in range(3):
            stems.append(make_stem(drum_phrase(kit, rng), origin=f"{name}: sampled grooves",
                                   **meta))
        return stems
    if first.label == "percussion":  # orchestral percussion: as recorded, chained
        for chain in _chains([x for _, x in notes], rng, seconds=20.0):
            stems.append(make_stem(chain, origin=f"{name}: percussion as recorded", **meta))
        return stems
    samples = []
    for r, x in notes:
        stem_name = Path(r.rel).stem
        pitch = (_GUITAR_STRINGS.get(stem_name.split("_")[-1]) if r.source == "guitarsounds"
                 else parse_pitch(stem_name))
        samples.append(Sample(x, pitch, stem_name))
    kind_cls = cls or ("piano" if "piano" in fine else "acoustic_guitar" if first.label ==
                       "plucked" else "")
    n_phr = int(np.clip(len(samples) // 6, 6, 8))  # small sets need variety most
    for _ in range(n_phr):
        x = phrase(samples, kind_cls, rng, seconds=float(rng.uniform(12, 20)))
        stems.append(make_stem(x, origin=f"{name}: sampler phrases from {len(samples)} notes",
                               **meta))
    return stems


# mirdata fixture (dataset folder, file-name prefix) -> (classes, labels complete?)
FIXTURE_LABELS: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {
    ("compmusic_jingju_acappella", ""): (("voice",), True),
    ("dagstuhl_choirset", ""): (("voice",), True),
    ("egfxset", ""): (("electric_guitar",), True),
    ("idmt_smt_audio_effects", ""): (("electric_guitar",), True),
    ("filosax", "Sax"): (("saxophone",), True),
    ("filosax", "Bass_Drums"): (("bass", "drums"), True),
    ("filosax", "Piano_Drums"): (("piano", "drums"), True),
    ("ikala", ""): (("voice",), False),  # sung over an unknown backing
    ("irmas", "[cla]"): (("clarinet",), False),  # predominant instrument only
    ("maestro", ""): (("piano",), True),
    ("phenicx_anechoic", "violin"): (("violin",), True),
    ("phenicx_anechoic", "viola"): ((), True),
    ("phenicx_anechoic", "cello"): (("cello",), True),
    ("phenicx_anechoic", "clarinet"): (("clarinet",), True),
    ("phenicx_anechoic", "flute"): (("flute",), True),
    ("phenicx_anechoic", "doublebass"): (("bass",), True),
    ("phenicx_anechoic", "bassoon"): ((), True),
    ("phenicx_anechoic", "oboe"): ((), True),
    ("phenicx_anechoic", "horn"): ((), True),
    ("tinysol", "Cb"): (("bass",), True),
    ("tinysol", "Fl"): (("flute",), True),
    ("tonas", ""): (("voice",), True),
    ("vocadito", ""): (("voice",), True),
}
_NEAR_MISS = {"viola": ("violin",)}
def _fixture_label(rel: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    parts = Path(rel).parts
    if len(parts) < 3:
        return None
    dataset, name = parts[1], parts[-1]
    for (ds, prefix), (classes, complete) in FIXTURE_LABELS.items():
        if ds == dataset and name.startswith(prefix):
            masked = () if complete else ("*",)
            for word, near in _NEAR_MISS.items():
                if name.startswith(word):
                    masked = near
            return classes, masked
    return None  # no trusted label (e.g. an IRMAS test clip or OpenMIC excerpt)


def fixture_stems(real_root: str | Path = DEFAULT_REAL_ROOT,
                  datasets: tuple[str, ...] | None = None) -> list[Stem]:
    """The labelled mirdata excerpts as stems (one per file, sorted by path), optionally only
    those of ``datasets`` (folder names such as ``vocadito``)."""
    rows = [r for r in read_manifest(real_root) if r.fixture
            and (datasets is None or Path(r.rel).parts[1] in datasets)]
    rows = [(r, lab) for r in sorted(rows, key=lambda r: r.rel) if (lab := _fixture_label(r.rel))]
    out = []
    for i, x in load_many([str(r.path) for r, _ in rows], CACHE_SR, what="mirdata fixtures"):
        r, (classes, masked) = rows[i]
        out.append(make_stem(x, classes=classes, masked=masked,
                             source=f"mirdata:{Path(r.rel).parts[1]}", family="mirdata",
                             licence=r.licence, origin=r.rel))
    return out


__all__ = ["DECAYING", "DEFAULT_REAL_ROOT", "FIXTURE_LABELS", "Recording", "fixture_stems",
           "group_recipe", "group_stems", "labels_for", "read_manifest", "training_groups"]
