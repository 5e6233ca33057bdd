"""The real recordings in ``../shared/data/real``: where they are and which sources are reserved.

Both the real-music benchmark (:mod:`tagger.realdev`) and training (:mod:`tagger.train.data.real`)
need these facts, and training must never see what the benchmark scores, so they live here,
below both (training used to import them from the benchmark, an edge against the import rule).
"""

from __future__ import annotations

import os
from pathlib import Path

from tagger.config import shared_dir

DATA_ENV = "TAGGER_REAL_DATA"

# Manifest sources realdev reserves (prefixes of the ``source`` column). Everything else in
# ../shared/data/real is free for training.
REALDEV_SOURCES: tuple[str, ...] = (
    "mirdata test fixtures", "github:mir-dataset-loaders/mirdata", "github:UltraStar-Deluxe",
    "github:deezer/spleeter", "github:janw/drmeter", "github:ichbinsoftware/everythingisfree",
    "debian:fretsonfire", "github:PaulHiemstra/model_distortion_article", "github:MTG/sms-tools",
    "github:spotify/basic-pitch",
    # note sources held out so organ, acoustic guitar, trumpet and violin have unseen players
    "github:GrandOrgue/grandorgue", "guitarsounds", "github:malvaceae/chiptube.io",
    "github:adambuttrick/sounds-of-ror",
)


def data_dir() -> Path:
    """``$TAGGER_REAL_DATA``, else ``data/real`` in ``tagger.config.shared_dir()``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return shared_dir() / "data" / "real"


def is_reserved(source: str) -> bool:
    """True for a manifest source that realdev uses: never train or distil on it."""
    return source.startswith(REALDEV_SOURCES)
