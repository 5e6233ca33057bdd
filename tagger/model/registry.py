"""Find, list and load models: ``models/NAME.json`` (the card) beside ``models/NAME.pt``.

``--model NAME|PATH`` on the command line ends here. Nothing is downloaded: a model is a card
and a ``state_dict`` on disk, so a scan is reproducible from the files alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tagger.model.card import ModelCard
from tagger.model.network import TaggerNet, build_network

MODELS_ENV = "TAGGER_MODELS_DIR"
DEFAULT_ENV = "TAGGER_MODEL"
FALLBACK_DEFAULT = "tagger-as"


class ModelNotFoundError(LookupError):
    """No card matches a name or path; the message lists what is installed."""


def models_dir() -> Path:
    """``$TAGGER_MODELS_DIR`` if set, else the repository's ``models/`` folder."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "models"


def _card_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def list_models() -> list[ModelCard]:
    """Every readable card in ``models_dir()``, sorted by name; unreadable JSON is skipped."""
    cards = []
    for path in _card_paths(models_dir()):
        try:
            cards.append(ModelCard.load(path))
        except (ValueError, TypeError, KeyError, OSError):
            continue  # not a card (or a broken one): listing must not crash on it
    return sorted(cards, key=lambda c: c.name)


def default_model_name() -> str:
    """``$TAGGER_MODEL``, else the first line of ``models/DEFAULT``, else ``tagger-as``."""
    env = os.environ.get(DEFAULT_ENV)
    if env:
        return env
    marker = models_dir() / "DEFAULT"
    if marker.is_file():
        name = marker.read_text(encoding="utf-8").strip().splitlines()
        if name and name[0].strip():
            return name[0].strip()
    return FALLBACK_DEFAULT


def _not_found(what: str) -> ModelNotFoundError:
    names = [c.name for c in list_models()]
    have = ", ".join(names) if names else f"none (no cards in {models_dir()})"
    return ModelNotFoundError(f"no model {what!r}; installed models: {have}")


def find_card(name_or_path: str | None = None) -> Path:
    """Resolve a model name, ``name-version`` id, card path or weights path to a card path."""
    target = name_or_path or default_model_name()
    path = Path(target).expanduser()
    if path.suffix in (".json", ".pt") or path.is_file():
        card_path = path.with_suffix(".json")
        if card_path.is_file():
            return card_path
        raise _not_found(str(target))
    by_name = models_dir() / f"{target}.json"
    if by_name.is_file():
        return by_name
    for card_path in _card_paths(models_dir()):
        try:
            card = ModelCard.load(card_path)
        except (ValueError, TypeError, KeyError, OSError):
            continue
        if target in (card.name, card.id):
            return card_path
    raise _not_found(target)


def weights_path(card: ModelCard, card_path: Path) -> Path:
    """The card's ``weights`` (relative to the card) or ``NAME.pt`` beside it."""
    if card.weights:
        candidate = Path(card.weights)
        return candidate if candidate.is_absolute() else card_path.parent / candidate
    return card_path.with_suffix(".pt")


def load_model(name_or_path: str | None = None, device: str | torch.device = "cpu"
               ) -> tuple[TaggerNet, ModelCard]:
    """Build and load a model in eval mode with gradients off. ``None`` = the default model."""
    card_path = find_card(name_or_path)
    card = ModelCard.load(card_path)
    weights = weights_path(card, card_path)
    if not weights.is_file():
        raise ModelNotFoundError(f"model {card.name!r}: weights file {weights} is missing")
    net = build_network(card)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    return net.to(device), card


def load_model_for_scanning(name_or_path: str | None = None, device: str | torch.device = "cpu"
                            ) -> tuple[TaggerNet, ModelCard]:
    """``load_model`` plus inference rewrites (BatchNorm folded, channels-last): about 1.5x
    faster on CPU with the same outputs. Never train or save what this returns."""
    from tagger.model.network import optimize_for_inference

    net, card = load_model(name_or_path, device=device)
    return optimize_for_inference(net), card
