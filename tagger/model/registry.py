"""Find, list and load models: ``models/NAME.json`` (the card) beside ``models/NAME.pt``.

``--model NAME|PATH`` on the command line ends here. Nothing is downloaded: a model is a card
and a ``state_dict`` on disk, so a scan is reproducible from the files alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from tagger.config import package_models_dir, user_models_dir
from tagger.model.architectures import Architecture, UnknownArchitectureError, architecture_of
from tagger.model.card import ModelCard
from tagger.model.errors import ModelNotFoundError

if TYPE_CHECKING:  # torch loads with the weights: finding a card (re-scans, --help) needs none
    import torch

MODELS_ENV = "TAGGER_MODELS_DIR"
DEFAULT_ENV = "TAGGER_MODEL"
FALLBACK_DEFAULT = "tagger-as"


def models_dir() -> Path:
    """``$TAGGER_MODELS_DIR`` if set, else the shipped ``models/`` (package data ``tagger.models``)."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return package_models_dir()


def install_dir() -> Path:
    """Where ``tagger train --out NAME`` installs: ``$TAGGER_MODELS_DIR``, else the user's folder."""
    env = os.environ.get(MODELS_ENV)
    return Path(env).expanduser() if env else user_models_dir()


def model_dirs() -> list[Path]:
    """Where models are looked up, first match wins: ``$TAGGER_MODELS_DIR`` alone when set,
    else the user's trained models, then the shipped ones."""
    if os.environ.get(MODELS_ENV):
        return [models_dir()]
    return [user_models_dir(), package_models_dir()]


def _card_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _all_card_paths() -> list[Path]:
    return [path for folder in model_dirs() for path in _card_paths(folder)]


def list_models() -> list[ModelCard]:
    """Every readable card in ``model_dirs()``, sorted by name (a name found twice: the first
    folder's); unreadable JSON is skipped."""
    cards: dict[str, ModelCard] = {}
    for path in _all_card_paths():
        try:
            card = ModelCard.load(path)
        except (ValueError, TypeError, KeyError, OSError):
            continue  # not a card (or a broken one): listing must not crash on it
        cards.setdefault(card.name, card)
    return sorted(cards.values(), key=lambda c: c.name)


def install_model(card_path: Path, weights: Path) -> Path:
    """Copy a trained model (card and weights) into ``install_dir()``; returns the folder.

    A shipped model's name is refused: the user's copy would shadow it everywhere.
    """
    name = card_path.stem
    shipped = package_models_dir() / f"{name}.json"
    target = install_dir()
    if shipped.is_file() and target.resolve() != shipped.parent.resolve():
        raise ModelNotFoundError(f"a shipped model is called {name!r}: train it under another "
                                 "name (--out OTHER)")
    target.mkdir(parents=True, exist_ok=True)
    for path in (weights, card_path):
        shutil.copy2(path, target / path.name)
    return target


def default_model_name() -> str:
    """``$TAGGER_MODEL``, else the first line of a ``DEFAULT`` file in ``model_dirs()`` order, else ``tagger-as``."""
    env = os.environ.get(DEFAULT_ENV)
    if env:
        return env
    for folder in model_dirs():
        marker = folder / "DEFAULT"
        if marker.is_file():
            name = marker.read_text(encoding="utf-8").strip().splitlines()
            if name and name[0].strip():
                return name[0].strip()
    return FALLBACK_DEFAULT


def _not_found(what: str) -> ModelNotFoundError:
    names = [c.name for c in list_models()]
    where = " or ".join(str(folder) for folder in model_dirs())
    have = ", ".join(names) if names else f"none (no cards in {where})"
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
    for folder in model_dirs():
        by_name = folder / f"{target}.json"
        if by_name.is_file():
            return by_name
    for card_path in _all_card_paths():
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


def load_model(name_or_path: str | None = None, device: str | torch.device = "cpu", *,
               for_scanning: bool = False, _seen: tuple[str, ...] = ()
               ) -> tuple[torch.nn.Module, ModelCard]:
    """Build and load a model in eval mode with gradients off. ``None`` = the default model.

    A card's ``architecture.type`` picks the builder registered for it
    (``tagger.model.architectures``): ``mobilenet_v3_audio`` (our CNN), ``yamnet`` (YAMNet
    with an AudioSet map) or ``ensemble`` (members named by card, loaded the same way).
    ``for_scanning`` applies the inference rewrites (see ``load_model_for_scanning``).
    """
    import torch

    from tagger.model.network import TaggerNet

    card_path = find_card(name_or_path)
    card = ModelCard.load(card_path)
    arch = architecture(card)
    if arch.composite:
        seen = _seen + (card.name,)

        def load_member(name: str) -> tuple[torch.nn.Module, ModelCard]:
            if name in seen:
                raise ModelNotFoundError(f"{arch.name} {card.name!r} contains itself ({name})")
            try:
                return load_model(name, device, for_scanning=for_scanning, _seen=seen)
            except ModelNotFoundError as exc:
                raise ModelNotFoundError(f"{arch.name} {card.name!r}: member {exc}") from None

        net: torch.nn.Module = arch.build(card, load_member).eval().requires_grad_(False)
    else:
        weights = weights_path(card, card_path)
        if not weights.is_file():
            raise ModelNotFoundError(f"model {card.name!r}: weights file {weights} is missing")
        net = arch.build(card)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
        if for_scanning and isinstance(net, TaggerNet):
            from tagger.model.network import optimize_for_inference

            net = optimize_for_inference(net)
    return net.to(device), card


def architecture(card: ModelCard) -> Architecture:
    """The registered architecture of a card, the built-in ones imported first (they register
    themselves: ``tagger.model.architectures``); an unknown type lists the known ones."""
    from tagger.model import ensemble, network, yamnet_tagger  # noqa: F401

    return architecture_of(card)


def build_from_card(card: ModelCard) -> torch.nn.Module:
    """The untrained network ``card`` describes (load its ``state_dict`` afterwards); a
    composite card (an ensemble) is made of loaded models: use :func:`load_model`."""
    arch = architecture(card)
    if arch.composite:
        raise UnknownArchitectureError(f"card {card.name!r}: a {arch.name} is built from its"
                                       " members' weights; load it with load_model")
    return arch.build(card)


def load_model_for_scanning(name_or_path: str | None = None, device: str | torch.device = "cpu"
                            ) -> tuple[torch.nn.Module, ModelCard]:
    """``load_model`` plus inference rewrites (BatchNorm folded, channels-last): about 1.5x
    faster on CPU with the same outputs. Never train or save what this returns."""
    return load_model(name_or_path, device, for_scanning=True)
