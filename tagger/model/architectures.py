"""Which code builds the network a card names: architectures and heads, registered by name.

Like timm's ``register_model``: a builder registers itself with a decorator, and a card's
``architecture.type`` (and, for our CNN, ``architecture.head.type``) is looked up here, so a new
network is one module with one decorated function, not another ``elif``. This module imports
no builder (that would be a cycle); ``tagger.model.registry`` imports the built-in ones
(``network``, ``yamnet_tagger``, ``ensemble``) before it looks a card up.

- An architecture's builder takes the card and returns the untrained ``nn.Module`` whose
  ``state_dict`` is the card's weights file; it maps a waveform batch ``[B, T]`` at the card's
  sample rate to ``(presence logits [B, C], foreground logits [B, C] or None)``.
- A *composite* architecture (the ensemble) has no weights of its own: its builder also gets a
  function that loads another model by name, the way the composite itself is being loaded.
- A head's builder takes the card and the head's part of it and returns the head and how many
  backbone outputs it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tagger.errors import TaggerError

if TYPE_CHECKING:
    from torch import nn

    from tagger.model.card import ModelCard

    MemberLoader = Callable[[str], "tuple[nn.Module, ModelCard]"]

Builder = TypeVar("Builder", bound=Callable[..., Any])


class UnknownArchitectureError(TaggerError, ValueError):
    """A card names an architecture or head type nothing registered; the message lists the known."""


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its name, its builder, and whether it is made of other models."""

    name: str
    build: Callable[..., nn.Module]
    composite: bool = False


_ARCHITECTURES: dict[str, Architecture] = {}
_HEADS: dict[str, Callable[..., tuple[nn.Module, int]]] = {}


def _register(table: dict[str, Any], what: str, name: str, value: Any) -> None:
    if name in table:
        raise ValueError(f"{what} {name!r} is registered twice")
    table[name] = value


def register_architecture(name: str, *, composite: bool = False) -> Callable[[Builder], Builder]:
    """Decorator: ``build(card)`` (``build(card, load_member)`` when ``composite``) makes the
    network of cards whose ``architecture.type`` is ``name``."""

    def decorate(build: Builder) -> Builder:
        _register(_ARCHITECTURES, "architecture", name, Architecture(name, build, composite))
        return build

    return decorate


def register_head(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``build(card, head_config) -> (head, backbone outputs)`` makes the head of cards
    whose ``architecture.head.type`` is ``name``."""

    def decorate(build: Builder) -> Builder:
        _register(_HEADS, "head", name, build)
        return build

    return decorate


def known_architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def known_heads() -> list[str]:
    return sorted(_HEADS)


def _unknown(what: str, kind: object, card: ModelCard, known: list[str]
             ) -> UnknownArchitectureError:
    return UnknownArchitectureError(f"unknown {what} type {kind!r} in card {card.name!r};"
                                    f" known: {', '.join(known) or 'none'}")


def architecture_of(card: ModelCard) -> Architecture:
    """The registered architecture of ``card.architecture['type']``, or a one-line error."""
    kind = card.architecture.get("type")
    found = _ARCHITECTURES.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise _unknown("architecture", kind, card, known_architectures())
    return found


def build_head(card: ModelCard, head_config: Mapping[str, Any]) -> tuple[nn.Module, int]:
    """The head ``head_config['type']`` names, and the number of backbone outputs it reads."""
    kind = head_config.get("type")
    build = _HEADS.get(kind) if isinstance(kind, str) else None
    if build is None:
        raise _unknown("head", kind, card, known_heads())
    return build(card, dict(head_config))
