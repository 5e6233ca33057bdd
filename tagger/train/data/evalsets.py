"""Fixed evaluation sets: the same clips, labels and order for a given seed, every time.

Why fixed: ``tagger eval`` and the model card must report numbers that can be compared between
models and re-runs. Every set is built only from audio the model never trains on:

- ``solo``: single-instrument real clips from held-out sources (the split's real sources, the
  evaluation-only recordings with restricted licences, single-instrument mirdata excerpts);
- ``mix``: mixtures of 2-3 of those clips (different classes, random levels);
- ``voice``: voice clips against as many clips without voice (the weakest class, on its own);
- ``fixtures``: the real excerpts in ``mirdata-fixtures`` as they are (checking only; some are
  polyphonic with partly unknown labels, which the mask says). A dataset the cache was built
  to train on (``build --train-on-fixtures``) drops out of every set here;
- ``heldout``: augmented mixtures from the held-out stems (the held-out SoundFont family
  included), the validation stream of the training run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tagger.taxonomy import CLASSES
from tagger.train.data.audio import CACHE_SR, load_many
from tagger.train.data.build import DEFAULT_CACHE, load_bank
from tagger.train.data.mixture import MixtureSource, Placed, active_seconds, mix_stems
from tagger.train.data.real import DEFAULT_REAL_ROOT, fixture_stems, read_manifest
from tagger.train.data.split import DEFAULT_HOLDOUT, split_sources
from tagger.train.data.stems import Stem, StemBank, make_stem
from tagger.train.example import Example

EVAL_KINDS = ("solo", "mix", "voice", "fixtures", "heldout")
PER_SOURCE_CLASS = 12  # clips per (source, class) in solo: no source dominates


def restricted_stems(real_root: str | Path = DEFAULT_REAL_ROOT) -> list[Stem]:
    """Recordings kept out of training for their licence; fine to measure with."""
    rows = [r for r in read_manifest(real_root) if r.restricted and not r.fixture]
    rows.sort(key=lambda r: r.rel)
    return [make_stem(x, classes=rows[i].classes, masked=rows[i].masked, source=rows[i].source,
                      family=rows[i].source, licence=rows[i].licence, origin=rows[i].rel)
            for i, x in load_many([str(r.path) for r in rows], CACHE_SR, what="recordings")]


def _windows(stem: Stem, n: int, k: int, rng: np.random.Generator) -> list[Placed]:
    """Up to ``k`` windows where ``stem`` sounds for most of the clip (centred if short)."""
    if len(stem.audio) <= n:
        return [Placed(stem, -(n - len(stem.audio)) // 2)]
    out = []
    for start in rng.permutation(np.arange(0, len(stem.audio) - n + 1, max(1, n // 4)))[: 8 * k]:
        p = Placed(stem, int(start))
        if active_seconds(p, n) >= 0.6 * n / stem.sample_rate:
            out.append(p)
        if len(out) == k:
            break
    return out


def _example(placed: list[Placed], n: int, classes: Sequence[str]) -> Example:
    audio, presence, fg, mask = mix_stems(placed, n, classes)
    rms = float(np.sqrt(np.mean(audio**2)))
    if rms > 0:
        audio = np.clip(audio * np.float32(0.1 / rms), -1, 1)  # -20 dBFS: levels compare
    return Example(audio.astype(np.float32), presence, fg, mask,
                   source="+".join(sorted({p.stem.source for p in placed})))


def solo_pool(bank: StemBank, real_root: Path, holdout: Sequence[str], sample_rate: int,
              n: int, rng: np.random.Generator, *, fixtures: bool = True) -> list[Placed]:
    """Single-source windows from held-out real audio, capped per (source, class)."""
    _, val = split_sources(bank, holdout)
    stems = [s for s in val if not s.family.startswith("sf-")]
    stems += restricted_stems(real_root)
    if fixtures:
        trained = {s.source for s in bank if s.family == "mirdata"}  # opted into training
        stems += [s for s in fixture_stems(real_root) if s.masked != ("*",)
                  and len(s.classes) <= 1 and s.source not in trained]
    stems = StemBank(sorted(stems, key=lambda s: (s.source, s.origin))).at_rate(sample_rate)
    by_key: dict[tuple[str, str], list[Placed]] = defaultdict(list)
    for s in stems:
        key = (s.source, s.classes[0] if s.classes else "")
        by_key[key] += _windows(s, n, 2, rng)
    pool = []
    for key in sorted(by_key):
        items = by_key[key]
        pick = rng.permutation(len(items))[:PER_SOURCE_CLASS]
        pool += [items[i] for i in sorted(pick)]
    return pool


def build_eval_set(kind: str, seed: int = 0, *, sample_rate: int = 32000,
                   clip_seconds: float = 3.0, cache: str | Path = DEFAULT_CACHE,
                   real_root: str | Path = DEFAULT_REAL_ROOT,
                   holdout: Sequence[str] = DEFAULT_HOLDOUT, classes: Sequence[str] = CLASSES,
                   size: int = 256) -> list[Example]:
    """A deterministic list of examples of ``kind`` (see module docs); ``size`` caps mixes."""
    if kind not in EVAL_KINDS:
        raise ValueError(f"unknown eval set {kind!r}; choose one of {', '.join(EVAL_KINDS)}")
    rng = np.random.default_rng(seed)
    n = int(round(clip_seconds * sample_rate))
    real_root = Path(real_root)
    if kind == "fixtures":
        bank = load_bank(cache) if Path(cache).expanduser().exists() else StemBank([])
        trained = {s.source for s in bank if s.family == "mirdata"}
        stems = StemBank([s for s in fixture_stems(real_root) if s.source not in trained]
                         ).at_rate(sample_rate)
        if len(stems) == 0:
            raise ValueError(f"no mirdata fixtures under {real_root} (set TAGGER_REAL_DATA)")
        return [_example([p], n, classes) for s in stems for p in _windows(s, n, 3, rng)]
    bank = load_bank(cache) if Path(cache).expanduser().exists() else StemBank([])
    if kind == "heldout":
        _, val = split_sources(bank, holdout)
        src = MixtureSource(val, sample_rate=sample_rate, clip_seconds=clip_seconds,
                            classes=classes)
        return [src.example(rng) for _ in range(size)]
    pool = solo_pool(bank, real_root, holdout, sample_rate, n, rng)
    if not pool:
        raise ValueError("no held-out real audio found: build the cache and check real_root")
    if kind == "solo":
        return [_example([p], n, classes) for p in pool]
    if kind == "mix":
        return [_example(_mixture(pool, rng), n, classes) for _ in range(size)]
    voiced = [p for p in pool if "voice" in p.stem.classes]
    unvoiced = [p for p in pool if "voice" not in p.stem.classes]
    if not voiced or not unvoiced:
        raise ValueError("the voice set needs held-out clips with and without voice")
    others = [unvoiced[i] for i in rng.permutation(len(unvoiced))[: len(voiced)]]
    return [_example([p], n, classes) for p in voiced + others]


def _mixture(pool: list[Placed], rng: np.random.Generator) -> list[Placed]:
    """2-3 pool windows of different classes at random levels (0 to -9 dB)."""
    k = int(rng.integers(2, 4))
    chosen: list[Placed] = []
    have: set[str] = set()
    for i in rng.permutation(len(pool)):
        p = pool[i]
        cls = set(p.stem.classes) or {"(none)"}
        if cls & have:
            continue
        have |= cls
        chosen.append(Placed(p.stem, p.start, float(10 ** (rng.uniform(-9, 0) / 20))))
        if len(chosen) == k:
            break
    return chosen
