"""The architecture and head registry (tagger.model.architectures): a network registered here, in
the test file, builds and loads from a card like a shipped one; unknown types name the known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from audiofiles import tone, write_audio
from cli_run import tagger
from tagger.model.architectures import (UnknownArchitectureError, known_architectures,
                                        known_heads, register_architecture, register_head)
from tagger.model.card import ModelCard
from tagger.model.network import TaggerNet, build_network
from tagger.model.registry import build_from_card, load_model

CLASSES = ["piano", "drums"]


class LoudnessNet(nn.Module):
    """A network of our own: per-class logits from the waveform's RMS, one weight per class."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n_classes))

    def forward(self, wave: Tensor) -> tuple[Tensor, None]:
        rms = wave.pow(2).mean(dim=1, keepdim=True).sqrt()
        return rms * self.scale, None


@register_architecture("test_loudness")
def build_loudness(card: ModelCard) -> LoudnessNet:
    return LoudnessNet(len(card.classes))


@register_head("test_halved")
def build_halved(card: ModelCard, config: dict) -> tuple[nn.Module, int]:
    """A head of our own under the shipped CNN: a fixed linear map from 4 backbone outputs."""
    head = nn.Linear(4, len(card.classes), bias=False)
    nn.init.constant_(head.weight, float(config["value"]))
    return head, 4


def card_dict(architecture: dict, name: str = "test-net") -> dict:
    return {"name": name, "version": "1", "classes": CLASSES, "sample_rate": 8000,
            "window_s": 1.0, "hop_s": 1.0, "thresholds": {}, "architecture": architecture}


def test_a_registered_network_builds_and_loads_from_its_card(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = ModelCard.from_dict(card_dict({"type": "test_loudness"}))
    net = build_from_card(card)
    assert isinstance(net, LoudnessNet) and net.scale.shape == (2,)
    # Saved like a trained model, it loads by name through the same lookup as the shipped ones.
    with torch.no_grad():
        net.scale.copy_(torch.tensor([2.0, -3.0]))
    torch.save(net.state_dict(), tmp_path / "test-net.pt")
    card.save(tmp_path / "test-net.json")
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(tmp_path))
    loaded, loaded_card = load_model("test-net")
    assert loaded_card.name == "test-net" and not loaded.training
    presence, role = loaded(torch.full((1, 8000), 0.5))
    torch.testing.assert_close(presence, torch.tensor([[1.0, -1.5]]))
    assert role is None


def test_a_registered_head_goes_under_the_shipped_backbone() -> None:
    card = ModelCard.from_dict(card_dict({
        "type": "mobilenet_v3_audio", "width_mult": 0.1,
        "head": {"type": "test_halved", "value": 0.5}}))
    net = build_from_card(card)
    assert isinstance(net, TaggerNet) and net.backbone.num_classes == 4
    assert isinstance(net.head, nn.Linear) and net.head.weight[0, 0].item() == 0.5
    presence, _ = net.eval()(torch.zeros(2, 8000))
    assert presence.shape == (2, len(CLASSES))


def test_unknown_types_name_the_known_ones() -> None:
    known = known_architectures()
    assert {"mobilenet_v3_audio", "yamnet", "ensemble", "test_loudness"} <= set(known)
    card = ModelCard.from_dict(card_dict({"type": "transformer9000"}))
    with pytest.raises(UnknownArchitectureError) as error:
        build_from_card(card)
    assert str(error.value) == (f"unknown architecture type 'transformer9000' in card"
                                f" 'test-net'; known: {', '.join(known)}")
    assert isinstance(error.value, ValueError)  # what build_network raised before the registry

    card = ModelCard.from_dict(card_dict({"type": "mobilenet_v3_audio",
                                          "head": {"type": "attention"}}))
    with pytest.raises(UnknownArchitectureError, match="unknown head type 'attention' in card"
                                                       " 'test-net'; known: audioset_map, direct"):
        build_network(card)
    assert {"audioset_map", "direct", "test_halved"} <= set(known_heads())


def test_scanning_with_a_card_of_unknown_type_is_a_one_line_error(tmp_path: Path) -> None:
    """Before the registry this was a traceback; now the one ``error:`` line of every command."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "odd.json").write_text(json.dumps(card_dict({"type": "nope"}, name="odd")))
    torch.save({}, models / "odd.pt")
    song = write_audio(tmp_path / "song.wav", tone(2.0, 8000), 8000)
    run = tagger("scan", "--model", "odd", "--db", str(tmp_path / "lib.db"), str(song),
                 env={"TAGGER_MODELS_DIR": str(models)})
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    prefix = "error: unknown architecture type 'nope' in card 'odd'; known: "
    assert last.startswith(prefix)
    # In this process the test's own network is registered too; a fresh one knows the built-ins.
    assert {"ensemble", "mobilenet_v3_audio", "yamnet"} <= set(last[len(prefix):].split(", "))
    assert "Traceback" not in run.stderr


def test_a_name_registers_once() -> None:
    with pytest.raises(ValueError, match="architecture 'test_loudness' is registered twice"):
        register_architecture("test_loudness")(build_loudness)
    with pytest.raises(ValueError, match="head 'direct' is registered twice"):
        register_head("direct")(build_halved)


def test_an_ensemble_card_is_loaded_not_built() -> None:
    card = ModelCard.from_dict(card_dict({"type": "ensemble", "members": []}))
    with pytest.raises(UnknownArchitectureError, match="built from its members' weights"):
        build_from_card(card)
