"""What the trainer calls: a training stream, the eval sets, and the training-data list.

Why one module: the trainer should not need to know about stems, shards, holdouts or user
folders; it asks for examples at its sample rate and clip length and gets them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagger.taxonomy import CLASSES
from tagger.train.data.build import DEFAULT_CACHE, build_cache, load_bank
from tagger.train.data.deps import MissingDependency
from tagger.train.data.mixture import MixConfig, MixtureSource
from tagger.train.data.real import DEFAULT_REAL_ROOT, read_manifest
from tagger.train.data.split import DEFAULT_HOLDOUT, held_out, split_sources
from tagger.train.data.stems import StemBank
from tagger.train.data.userdata import user_source
from tagger.train.example import Example, ExampleSource


class WeightedSource:
    """Interleave several example sources, each drawn with its weight."""

    def __init__(self, sources: Sequence[tuple[ExampleSource, float]]):
        if not sources:
            raise ValueError("no example sources")
        self.sources = [s for s, _ in sources]
        w = np.array([max(0.0, float(w)) for _, w in sources])
        if w.sum() <= 0:
            raise ValueError("source weights must not all be zero")
        self.weights = w / w.sum()

    def examples(self, rng: np.random.Generator) -> Iterator[Example]:
        streams = [s.examples(rng) for s in self.sources]
        while True:
            yield next(streams[int(rng.choice(len(streams), p=self.weights))])


def ensure_bank(cache: str | Path = DEFAULT_CACHE, *, build: bool = True, quick: bool = False,
                real_root: str | Path = DEFAULT_REAL_ROOT) -> StemBank:
    """The cached stems, rendering them first when the cache is empty and ``build`` is set."""
    cache = Path(cache).expanduser()
    bank = load_bank(cache, quick=quick) if cache.exists() else StemBank([])
    if len(bank) == 0:
        if not build:
            raise MissingDependency(f"no stems in {cache}: run python -m tagger.train.data.build"
                                    f" --cache {cache}")
        bank = build_cache(cache, quick=quick, real_root=real_root)
    return bank


def train_source(*, sample_rate: int, clip_seconds: float, cache: str | Path = DEFAULT_CACHE,
                 classes: Sequence[str] = CLASSES, holdout: Sequence[str] = DEFAULT_HOLDOUT,
                 user_data: Sequence[str | Path] = (), user_weight: float = 0.5,
                 include_builtin: bool = True, build: bool = True, quick: bool = False,
                 real_root: str | Path = DEFAULT_REAL_ROOT, config: MixConfig | None = None
                 ) -> ExampleSource:
    """The training stream: mixes from the non-held-out stems, plus user data if given.

    ``user_data`` are folders (``DIR/<class>/*``) or CSV files; they get ``user_weight`` of the
    draws in total (all of them when ``include_builtin`` is False).
    """
    parts: list[tuple[ExampleSource, float]] = []
    users = [user_source(p, sample_rate=sample_rate, clip_seconds=clip_seconds, classes=classes)
             for p in user_data]
    if include_builtin or not users:
        bank = ensure_bank(cache, build=build, quick=quick, real_root=real_root)
        train, _ = split_sources(bank, holdout)
        mix = MixtureSource(train, sample_rate=sample_rate, clip_seconds=clip_seconds,
                            classes=classes, config=config)
        parts.append((mix, 1.0 - user_weight if users else 1.0))
    for u in users:
        parts.append((u, (user_weight if include_builtin else 1.0) / len(users)))
    return parts[0][0] if len(parts) == 1 else WeightedSource(parts)


def training_data(cache: str | Path = DEFAULT_CACHE, *, holdout: Sequence[str] = DEFAULT_HOLDOUT,
                  real_root: str | Path = DEFAULT_REAL_ROOT) -> list[dict[str, Any]]:
    """Every source with licence, classes, amount and use (train / validation / eval-only),
    for the model card's training-data section."""
    bank = load_bank(cache)
    rows = []
    for r in bank.summary():
        use = "validation" if held_out(r["source"], r["family"], holdout) else "train"
        rows.append({**r, "use": use})
    seen: dict[str, dict[str, Any]] = {}
    for rec in read_manifest(real_root):
        if rec.fixture or rec.restricted:
            key = rec.source + ("" if rec.fixture else f" ({rec.group})")
            row = seen.setdefault(key, {"source": key, "family": rec.source, "class": ",".join(
                rec.classes) or "(see fine labels)", "stems": 0, "seconds": None,
                "licences": set(), "use": "eval-only"})
            row["stems"] += 1
            row["licences"].add(rec.licence)
    for row in seen.values():
        rows.append({**row, "licences": sorted(row["licences"])})
    return rows


def _synth_only(stem: object) -> bool:
    return getattr(stem, "family", "").startswith("sf-")


def _builtin_stream(sample_rate: int, window_s: float, *, quick: bool = False,
                    keep: Any = None) -> ExampleSource:
    """A named training stream for ``tagger train --data NAME`` (see TRAIN_SOURCES)."""
    if keep is None:
        return train_source(sample_rate=sample_rate, clip_seconds=window_s, quick=quick)
    bank = ensure_bank(DEFAULT_CACHE, quick=quick)
    train, _ = split_sources(bank, DEFAULT_HOLDOUT)
    return MixtureSource(train.filter(keep), sample_rate=sample_rate, clip_seconds=window_s)


# Named sets for tagger.train.inputs: name -> callable(sample_rate, window_s).
TRAIN_SOURCES = {
    "mixtures": lambda sample_rate, w: _builtin_stream(sample_rate, w),
    "mixtures-quick": lambda sample_rate, w: _builtin_stream(sample_rate, w, quick=True),
    "mixtures-synth": lambda sample_rate, w: _builtin_stream(sample_rate, w, keep=_synth_only),
    "mixtures-real": lambda sample_rate, w: _builtin_stream(
        sample_rate, w, keep=lambda s: not _synth_only(s)),
}


def _eval(kind: str):  # -> callable(sample_rate, window_s) -> list[Example]
    from tagger.train.data.evalsets import build_eval_set

    return lambda sample_rate, w: build_eval_set(kind, 0, sample_rate=sample_rate, clip_seconds=w)


EVAL_SETS = {kind: _eval(kind) for kind in ("solo", "mix", "voice", "fixtures", "heldout")}
