"""Shared fixtures: a small random-weight model for pipeline tests that must be fast, and a
store holding the test library of ``tests/library_store.py``.

Pipeline behaviour (decoding, chunking, storing, resuming, errors) does not depend on what the
model knows, so those tests use this tiny checkpoint; accuracy is checked on the shipped model
with the evaluation scripts, not here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/audiofiles.py

from library_store import fill_store  # noqa: E402
from tagger.model.card import FrontendConfig, ModelCard  # noqa: E402
from tagger.store import Store  # noqa: E402
from tagger.taxonomy import CLASSES  # noqa: E402


def make_tiny_model(folder: Path, *, name: str = "tiny-test", seed: int = 0) -> Path:
    """Write a random-weight 8 kHz model (card + weights) into ``folder``; returns the card."""
    from tagger.model.network import build_network

    card = ModelCard(
        name=name, version="0", classes=list(CLASSES), sample_rate=8000, window_s=2.0, hop_s=1.0,
        thresholds={c: 0.5 for c in CLASSES},
        architecture={"type": "mobilenet_v3_audio", "width_mult": 0.1, "head": {"type": "direct"},
                      "num_outputs": len(CLASSES), "role_head": True},
        frontend=FrontendConfig(n_mels=32, n_fft=256, win_length=200, hop_length=80),
        description="random weights, for tests only", role_method="head",
    )
    torch.manual_seed(seed)
    net = build_network(card)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / f"{name}.pt")
    card.save(folder / f"{name}.json")
    return folder / f"{name}.json"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models"))


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store file filled with ``library_store.LIBRARY`` (queries, export, show)."""
    filled = fill_store(tmp_path / "lib.db")
    yield filled
    filled.close()
