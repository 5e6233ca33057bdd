"""The training data engine: rendered and real stems, mixed into labelled clips on the fly.

``tagger train --data mixtures`` and ``tagger eval solo`` reach it through ``TRAIN_SOURCES`` and
``EVAL_SETS`` (name -> callable(sample_rate, window_s)), which ``tagger.train.inputs`` reads.
From Python::

    from tagger.train.data import train_source, build_eval_set, training_data

    src = train_source(sample_rate=32000, clip_seconds=10.0, user_data=["my_irmas/"])
    for ex in src.examples(np.random.default_rng(worker_seed)):  # endless Examples
        ...
    val = build_eval_set("heldout", seed=0, sample_rate=32000, clip_seconds=10.0)
    card["training_data"] = training_data()

Pieces (one module each): ``build`` renders the stem cache (``python -m
tagger.train.data.build --cache DIR [--quick]``) from ``render`` (music21 / mma / generated
songs through SoundFonts, ``gm`` holds the GM-program map), ``real`` (../shared/data/real via its
manifest, ``sampler`` plays recorded notes as phrases) and ``debian`` (Hydrogen kits, KLettres
speech); ``mixture`` mixes stems with labels from the window, ``augment`` adds rooms, EQ,
codecs and noise; ``split`` holds sources out; ``evalsets`` builds the fixed eval sets;
``userdata`` streams your own folders and CSVs (read by ``tagger.train.labelled``).
"""

from __future__ import annotations

from tagger.lazy import lazy_exports

# name -> module, imported on first use (PEP 562): ``python -m tagger.train.data.build`` must not
# find its own module already imported by the package, and importing the package stays cheap.
_EXPORTS = {
    "EVAL_SETS": "api", "TRAIN_SOURCES": "api", "WeightedSource": "api", "ensure_bank": "api",
    "train_source": "api", "training_data": "api",
    "DEFAULT_CACHE": "build", "build_cache": "build", "load_bank": "build",
    "MissingDependency": "deps", "EVAL_KINDS": "evalsets", "build_eval_set": "evalsets",
    "MixConfig": "mixture", "MixtureSource": "mixture", "Placed": "mixture",
    "label_mix": "mixture", "mix_stems": "mixture", "DEFAULT_HOLDOUT": "split",
    "split_sources": "split", "Stem": "stems", "StemBank": "stems", "StemCache": "stems",
    "FileSource": "userdata", "user_source": "userdata",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
