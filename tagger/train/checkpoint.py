"""Checkpoints a run can resume from, and the finished model's files.

A checkpoint holds everything that decides what happens next: weights, optimizer and scheduler
state, the step, every random generator (python, numpy, torch, CUDA), the history so far and
the best weights seen, plus the config, so ``--resume CKPT`` alone restarts the run. Writes go
to a temporary name and are renamed, so a run killed mid-write leaves the previous checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger.errors import TaggerError
from tagger.model.card import ModelCard

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"


class CheckpointError(TaggerError, ValueError):
    """A checkpoint that is missing, unreadable or from a different model."""


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(path: Path, **state: Any) -> Path:
    """Write a checkpoint (keyword fields, see ``load_checkpoint``) atomically."""
    _atomic_save({"format": 1, **state, "rng": rng_state()}, path)
    return path


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file, or a run folder whose ``checkpoints/last.pt`` is taken."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / CHECKPOINT_DIR / LAST
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {p}")
    return p


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (on the CPU)."""
    p = resolve_checkpoint(path)
    try:
        # Not weights_only: the checkpoint carries python/numpy RNG states. Only load your own.
        state = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"cannot read checkpoint {p}: {exc}".splitlines()[0]) from exc
    if not isinstance(state, dict) or state.get("format") != 1:
        raise CheckpointError(f"{p} is not a tagger training checkpoint")
    return state


def write_model(state_dict: dict[str, torch.Tensor], card: ModelCard, folder: Path
                ) -> tuple[Path, Path]:
    """``NAME.pt`` (the state_dict, CPU tensors) and ``NAME.json`` (the card) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{card.name}.pt"
    card.weights = weights.name
    _atomic_save({k: v.detach().cpu() for k, v in state_dict.items()}, weights)
    card_path = folder / f"{card.name}.json"
    card.save(card_path)
    return card_path, weights
