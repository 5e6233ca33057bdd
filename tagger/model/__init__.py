"""The model: card, network, frontend and loading."""

from tagger.model.card import ModelCard

__all__ = ["ModelCard"]
