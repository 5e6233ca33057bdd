"""`tagger models`: lists the cards found in $TAGGER_MODELS_DIR and shows one in full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagger.cli.app import app
from tagger.cli.models import _classes_cell, validation_summary
from tagger.model.card import ModelCard
from tagger.taxonomy import CLASSES

runner = CliRunner()


def write_card(folder: Path, name: str, version: str, **extra) -> ModelCard:
    fields = dict(classes=list(CLASSES), sample_rate=32000, window_s=3.0, hop_s=1.0,
                  thresholds={c: 0.4 for c in CLASSES}, architecture={"type": "test"})
    card = ModelCard(name=name, version=version, **{**fields, **extra})
    card.save(folder / f"{name}.json")
    return card


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    write_card(folder, "tagger-as", "1.2", description="AudioSet-pretrained tagger",
               validation={"mAP": 0.81, "per_class": {c: {"ap": 0.8, "f1": 0.7} for c in CLASSES}},
               training_data=[{"name": "OpenMIC-2018", "licence": "CC BY 4.0"}],
               reproduce="python -m tagger.train --config x.toml", licence="MIT")
    write_card(folder, "tiny", "0", classes=["voice", "drums", "brass"])
    (folder / "notes.json").write_text("[1, 2]")  # not a card: skipped, not a crash
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(folder))
    monkeypatch.setenv("TAGGER_MODEL", "tagger-as")
    return folder


def test_list_table(models_dir: Path) -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "tagger-as 1.2" in out and "(default)" in out and "tiny 0" in out
    assert "32 kHz" in out and "3 s / 1 s" in out and "14" in out
    assert "mAP 0.81" in out
    assert "+brass" in out
    assert "2 models in" in out


def test_classes_cell() -> None:
    assert _classes_cell(list(CLASSES)) == "14"
    assert _classes_cell(["voice", "drums", "brass"]).startswith("3 (+brass; no piano, organ")


def test_json(models_dir: Path) -> None:
    result = runner.invoke(app, ["models", "--json"])
    cards = json.loads(result.stdout)
    assert [c["name"] for c in cards] == ["tagger-as", "tiny"]
    assert ModelCard.from_dict(cards[0]).id == "tagger-as-1.2"
    one = json.loads(runner.invoke(app, ["models", "tiny", "--json"]).stdout)
    assert one["version"] == "0" and one["classes"] == ["voice", "drums", "brass"]


def test_one_card_in_full(models_dir: Path) -> None:
    result = runner.invoke(app, ["models", "tagger-as-1.2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("AudioSet-pretrained tagger", "32000 Hz", "saxophone", "0.40", "0.800",
                 "OpenMIC-2018 (CC BY 4.0)", "reproduce: python -m tagger.train", "licence: MIT"):
        assert text in out, text


def test_unknown_model_and_empty_dir(models_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["models", "nope"])
    assert result.exit_code == 2
    assert "no model 'nope'" in result.output and "tagger-as" in result.output
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(tmp_path / "empty"))
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "no models installed" in result.output
    assert runner.invoke(app, ["models", "--json"]).stdout.strip() == "[]"


def test_validation_summary_shapes() -> None:
    assert validation_summary({}) == "-"
    assert validation_summary({"mAP": 0.812, "note": "x"}) == "mAP 0.812"
    assert validation_summary({"macro": {"f1": 0.7}}) == "macro f1 0.7"
    per_class = {"per_class": {"a": {"ap": 0.5}, "b": {"ap": 1.0}}}
    assert validation_summary(per_class) == "mean ap 0.75 over 2 classes"
