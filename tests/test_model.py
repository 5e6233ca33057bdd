"""The network, its frontend, the shipped model and the registry.

Uses only the committed ``models/tagger-as.*`` and signals made here, never ../shared, so it runs
in CI. (One extra check against the original EfficientAT checkpoint runs when ../shared exists.)
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

sys.path.insert(0, str(Path(__file__).parent))
from audiofiles import tone, write_audio  # noqa: E402

from tagger.config import package_models_dir  # noqa: E402
from tagger.model.card import FrontendConfig, ModelCard  # noqa: E402
from tagger.model.frontend import LogMel, kaldi_mel_banks  # noqa: E402
from tagger.model.mobilenet import MobileNetV3Audio, fold_batchnorm  # noqa: E402
from tagger.model.network import (AudioSetMapHead, build_network,  # noqa: E402
                                  optimize_for_inference)
from tagger.model.registry import (ModelNotFoundError, list_models, load_model,  # noqa: E402
                                   models_dir)
from tagger.taxonomy import CLASSES  # noqa: E402

torch.set_num_threads(2)
MODELS = package_models_dir()
SHIPPED_CARD = MODELS / "tagger-as.json"
PRETRAINED = Path(__file__).resolve().parents[2] / "shared" / "pretrained" / "mn04_as_mAP_432.pt"


@pytest.fixture(scope="module")
def shipped() -> tuple[torch.nn.Module, ModelCard]:
    return load_model("tagger-as")


def test_backbone_loads_shipped_weights_strictly() -> None:
    """The backbone part of the shipped state_dict is exactly EfficientAT mn04's layout."""
    state = torch.load(MODELS / "tagger-as.pt", map_location="cpu", weights_only=True)
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    assert len(backbone) == 312
    net = MobileNetV3Audio(width_mult=0.4, num_classes=527)
    net.load_state_dict(backbone, strict=True)
    assert sum(p.numel() for p in net.parameters()) == 983_599
    assert net.embed_dim == 384


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="../shared/pretrained not present (CI)")
def test_original_checkpoint_loads_strictly_and_matches_shipped() -> None:
    original = torch.load(PRETRAINED, map_location="cpu", weights_only=True)
    MobileNetV3Audio(0.4, 527).load_state_dict(original, strict=True)
    state = torch.load(MODELS / "tagger-as.pt", map_location="cpu", weights_only=True)
    for key, value in original.items():
        assert torch.equal(state[f"backbone.{key}"], value), key


@pytest.mark.slow
def test_width_and_outputs_are_parameters() -> None:
    net = MobileNetV3Audio(width_mult=0.1, num_classes=14).eval()
    spec = torch.randn(2, 1, 64, 100)
    logits, emb = net.forward_with_embedding(spec)
    assert logits.shape == (2, 14) and emb.shape == (2, net.embed_dim)
    assert torch.allclose(net(spec), logits)


def test_frontend_shape_and_constants() -> None:
    fe = LogMel(FrontendConfig(f_max=15000.0), 32000)
    wave = torch.randn(3, 32000 * 2) * 0.1
    spec = fe(wave)
    assert spec.shape == (3, 1, 128, fe.frames(wave.shape[1])) == (3, 1, 128, 200)
    assert fe(torch.zeros(1, 16000)).isfinite().all()  # silence: log offset, no -inf
    # One clip alone or inside a batch gives the same frames (no cross-talk, no padding effects).
    assert torch.allclose(fe(wave[1:2]), spec[1:2], atol=1e-4)
    # The block-banded mel product equals the dense one.
    e = torch.add(wave[:, 1:], wave[:, :-1], alpha=-0.97)
    stft = torch.stft(e, 1024, 320, 800, fe.window, center=True, return_complex=True)
    dense = (torch.log(fe.mel_banks @ stft.abs().square() + 1e-5) + 4.5) / 5
    assert torch.allclose(spec[:, 0], dense, atol=1e-4)
    # The default (f_max None) is EfficientAT's: Nyquist minus 1 kHz.
    assert torch.equal(LogMel(FrontendConfig(), 32000).mel_banks, fe.mel_banks)


def test_kaldi_mel_banks_are_triangles_in_mel() -> None:
    banks = kaldi_mel_banks(n_mels=128, n_fft=1024, sample_rate=32000, f_min=0.0, f_max=15000.0)
    assert banks.shape == (128, 513)
    assert banks[:, -1].max() == 0.0  # Kaldi leaves the Nyquist bin out
    assert (banks.max(axis=1) <= 1.0).all() and (banks.max(axis=1) > 0.0).all()
    peaks = banks.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] * 32000 / 1024 < 15000


def test_frontend_sees_pitch() -> None:
    """A 1 kHz tone lights the mel band around 1 kHz, not a neighbour far away."""
    fe = LogMel(FrontendConfig(), 32000)
    t = torch.arange(32000) / 32000
    spec = fe(torch.sin(2 * torch.pi * 1000 * t)[None] * 0.5)[0, 0]
    band = int(spec.mean(dim=1).argmax())
    banks = fe.mel_banks.numpy()
    assert abs(banks[band].argmax() * 32000 / 1024 - 1000) < 100


def test_map_head_max_and_noisy_or() -> None:
    class_map = {"a": {0: "x", 2: "z"}, "b": {1: "y"}}
    z = torch.tensor([[-2.0, 0.5, 1.0], [3.0, -1.0, -4.0]])
    head_max = AudioSetMapHead(["a", "b"], class_map, "max", n_inputs=3)
    assert torch.allclose(head_max(z), torch.tensor([[1.0, 0.5], [3.0, -1.0]]))
    noisy = torch.sigmoid(AudioSetMapHead(["a", "b"], class_map, "noisy_or", n_inputs=3)(z))
    p = torch.sigmoid(z)
    assert torch.allclose(noisy[:, 0], 1 - (1 - p[:, 0]) * (1 - p[:, 2]), atol=1e-5)
    assert torch.allclose(noisy[:, 1], p[:, 1], atol=1e-5)
    with pytest.raises(ValueError, match="no AudioSet classes mapped"):
        AudioSetMapHead(["a", "c"], class_map)


def test_shipped_model_end_to_end(shipped: tuple, tmp_path: Path) -> None:
    """A rendered file -> decode -> load_model() -> logits for every class, probabilities sane."""
    net, card = shipped
    assert card.name == "tagger-as" and list(card.classes) == list(CLASSES)
    assert card.role_method == "relative" and set(card.thresholds) == set(CLASSES)
    path = write_audio(tmp_path / "tone.flac", tone(3.0, 44100, freq=220.0), 44100)
    audio, sr = sf.read(path, dtype="float32")
    wave = soxr.resample(audio[:, 0] if audio.ndim > 1 else audio, sr, card.sample_rate)
    window = int(card.window_s * card.sample_rate)
    batch = torch.zeros(2, window)
    batch[0, : len(wave)] = torch.from_numpy(wave[:window])
    with torch.inference_mode():
        presence, role = net(batch)
    assert presence.shape == (2, len(CLASSES)) and role is None
    assert presence.isfinite().all()
    probs = torch.sigmoid(presence)
    # Silence (row 1) is no instrument; a steady harmonic tone is not drums or voice.
    assert probs[1].max() < 0.2
    assert probs[0, CLASSES.index("drums")] < 0.3 and probs[0, CLASSES.index("voice")] < 0.3


@pytest.mark.slow
def test_inference_copies_match(shipped: tuple) -> None:
    """Folded BatchNorm and channels-last change speed, not answers; the original is untouched."""
    net, _ = shipped
    wave = torch.randn(2, 32000) * 0.1
    spec = net.frontend(wave)
    with torch.inference_mode():
        ref = net.backbone(spec)
        assert torch.allclose(fold_batchnorm(net.backbone)(spec), ref, atol=1e-3)
        fast = optimize_for_inference(net)
        assert torch.allclose(fast(wave)[0], net(wave)[0], atol=1e-3)
    assert set(net.state_dict()) == set(torch.load(MODELS / "tagger-as.pt", weights_only=True))


def test_card_round_trip_and_build(tmp_path: Path) -> None:
    card = ModelCard.load(SHIPPED_CARD)
    card.save(tmp_path / "copy.json")
    again = ModelCard.load(tmp_path / "copy.json")
    assert again.to_dict() == card.to_dict()
    assert json.loads(SHIPPED_CARD.read_text())["frontend"]["f_max"] == 15000.0
    state = torch.load(MODELS / "tagger-as.pt", map_location="cpu", weights_only=True)
    build_network(again).load_state_dict(state, strict=True)
    assert (MODELS / "tagger-as.pt").stat().st_size < 20_000_000
    assert card.validation, "the shipped card carries its validation figures"


def test_registry_names_paths_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "tagger-as" in [c.name for c in list_models()]
    assert load_model(str(SHIPPED_CARD))[1].name == "tagger-as"
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(SHIPPED_CARD, folder / "tagger-as.json")
    shutil.copy(MODELS / "tagger-as.pt", folder / "tagger-as.pt")
    (folder / "junk.json").write_text("[1, 2]")
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(folder))
    assert models_dir() == folder
    assert [c.name for c in list_models()] == ["tagger-as"]  # junk skipped
    net, card = load_model(str(folder / "tagger-as.pt"))  # the weights path finds its card
    assert load_model("tagger-as-0.1")[1].name == "tagger-as"  # the name-version id too
    assert card.id == "tagger-as-0.1" and not net.training
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(ModelNotFoundError, match="no model 'nope'.*tagger-as"):
        load_model("nope")
    (folder / "tagger-as.pt").unlink()
    with pytest.raises(ModelNotFoundError, match="weights file"):
        load_model("tagger-as")
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(tmp_path / "empty"))
    with pytest.raises(ModelNotFoundError, match="none"):
        load_model(None)


def test_trained_models_install_into_the_users_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`train --out NAME` installs outside the package (an upgrade would delete it there) and
    the registry finds it before the shipped models; a shipped name is refused."""
    from tagger.model.registry import install_dir, install_model, model_dirs

    monkeypatch.delenv("TAGGER_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    run = tmp_path / "run"
    run.mkdir()
    card = json.loads(SHIPPED_CARD.read_text())
    card["name"], card["weights"] = "my-model", "my-model.pt"
    (run / "my-model.json").write_text(json.dumps(card))
    shutil.copy(MODELS / "tagger-as.pt", run / "my-model.pt")
    assert install_dir() == tmp_path / "data" / "tagger" / "models"
    assert model_dirs() == [install_dir(), MODELS]

    assert install_model(run / "my-model.json", run / "my-model.pt") == install_dir()
    names = [c.name for c in list_models()]
    assert "my-model" in names and "tagger-as" in names  # the user's and the shipped ones
    assert load_model("my-model")[1].name == "my-model"
    assert not (MODELS / "my-model.json").exists()

    (run / "tagger-as.json").write_text(SHIPPED_CARD.read_text())
    with pytest.raises(ModelNotFoundError, match="shipped model is called 'tagger-as'"):
        install_model(run / "tagger-as.json", run / "my-model.pt")
    assert not (install_dir() / "tagger-as.json").exists()
