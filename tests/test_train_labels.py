"""Human labels as training and evaluation data: `tagger train --labels`, `tagger eval MODEL labels`.

A real store over real WAV tracks (``label_support.make_store``) gets labels through the
label library, exactly as the labeling page writes them; a tiny random model is fine-tuned on
them for a few steps through the real CLI. What is checked is the wiring (the labels are mixed
in, split by track, recorded in the card, scored with masks), not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from audiofiles import tone, write_audio
from conftest import make_tiny_model
from tagger.cli.app import app
from tagger.label.labels import record_labels
from tagger.model.registry import load_model
from tagger.store import Store
from tagger.train.config import TrainConfig, load_config
from tagger.train.inputs import open_inputs
from label_support import make_store

# (track id, start, end) -> roles; every class has positives and negatives over the 8 clips.
LABELS = {
    (1, 0.0, 5.0): {"voice": "foreground", "piano": "none"},
    (1, 5.0, 10.0): {"voice": "foreground", "saxophone": "none"},
    (2, 0.0, 5.0): {"piano": "foreground", "voice": "none"},
    (2, 5.0, 10.0): {"piano": "background", "voice": "background"},
    (3, 0.0, 5.0): {"saxophone": "foreground", "piano": "none"},
    (3, 5.0, 10.0): {"voice": "none", "saxophone": "foreground"},
    (4, 0.0, 5.0): {"voice": "background", "piano": "foreground", "saxophone": "none"},
    (4, 5.0, 10.0): {"voice": "none"},
}
TINY_RUN = ('steps = 4\nbatch_size = 4\nworkers = 0\nthreads = 1\ndistill_weight = 0.0\n'
            'warmup_steps = 0\neval_every = 4\ncheckpoint_every = 4\nlog_every = 2\n'
            'val_fraction = 0.25\nspec_augment = false\n')


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A labelled store (4 tracks, 8 clips), a tiny model, a small class folder, a run config."""
    root = tmp_path_factory.mktemp("labels")
    db, _ = make_store(root, n_tracks=4)
    with Store(db) as store:
        for (track, start, end), roles in LABELS.items():
            record_labels(store, track_id=track, start=start, end=end, roles=roles)
    folder = root / "data"
    for i, kind in enumerate(("flute", "bass")):
        (folder / kind).mkdir(parents=True)
        write_audio(folder / kind / f"{kind}.wav", tone(2.0, 16000, freq=300.0 + 400 * i), 16000)
    config = root / "tiny.toml"
    config.write_text(TINY_RUN, encoding="utf-8")
    (root / "empty").mkdir()
    empty, _ = make_store(root / "empty", n_tracks=1)
    return {"db": db, "empty": empty, "folder": folder, "config": config,
            "model": make_tiny_model(root / "models")}


def test_labels_join_the_sources_at_the_models_rate(setup: dict[str, Path]) -> None:
    config = TrainConfig().updated(**load_config(setup["config"]).to_dict()).updated(
        init="model", from_model=str(setup["model"]), data=[str(setup["folder"])], labels=True,
        labels_db=str(setup["db"]))
    warnings: list[str] = []
    inputs = open_inputs(config, warn=warnings.append)
    assert inputs.weights == pytest.approx([0.75, 0.25])  # the usual data still dominates
    record = inputs.records[-1]
    assert record["kind"] == "human labels" and record["clips"] == 8 and record["tracks"] == 4
    assert record["validation_clips"] == 2  # one whole track of four held out
    held = inputs.eval_sets["labels-heldout"]
    assert len(held) == 2 and all(len(ex.audio) == 5 * 8000 for ex in held)  # whole clips, 8 kHz
    example = next(inputs.sources[-1].examples(np.random.default_rng(0)))
    assert example.audio.shape == (2 * 8000,)  # the tiny model's 2-s window, not the default 5 s


@pytest.mark.slow
def test_fine_tune_on_labels_then_score_the_model_on_them(setup: dict[str, Path],
                                                          tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(app, [
        "train", "--config", str(setup["config"]), "--from", str(setup["model"]), "--labels",
        "--db", str(setup["db"]), "--data", str(setup["folder"]), "--out", str(run),
        "--name", "tuned", "-q"])
    assert result.exit_code == 0, result.output
    card = json.loads((run / "tuned.json").read_text())
    kinds = [row["kind"] for row in card["training_data"]]
    assert kinds == ["labelled", "human labels"] and card["training_data"][1]["weight"] == 0.25
    assert "labels-heldout" in card["validation"]["sets"]
    saved = load_config(run / "tuned.train.json")
    assert saved.labels and saved.labels_db == str(setup["db"].resolve()) and saved.steps == 4
    net, loaded = load_model(run / "tuned.json")
    assert loaded.sample_rate == 8000 and net(torch.zeros(1, 16000))[0].shape == (1, 14)

    result = runner.invoke(app, ["eval", str(run / "tuned.json"), "labels", "--db",
                                 str(setup["db"])])
    assert result.exit_code == 0, result.output
    assert "mAP" in result.output and "saxophone" in result.output and "organ" not in result.output
    result = runner.invoke(app, ["eval", str(run / "tuned.json"), "labels", "--db",
                                 str(setup["db"]), "--json", "-q"])
    doc = json.loads(result.stdout)
    per_class = doc["per_class"]
    assert doc["clips"] == 8
    # Masked: a clip counts for an instrument only where a person labelled that instrument.
    assert (per_class["voice"]["positives"], per_class["voice"]["negatives"]) == (4, 3)
    assert (per_class["piano"]["positives"], per_class["piano"]["negatives"]) == (3, 2)
    assert (per_class["saxophone"]["positives"], per_class["saxophone"]["negatives"]) == (2, 2)
    assert per_class["organ"]["positives"] + per_class["organ"]["negatives"] == 0


def test_no_labels_is_a_one_line_error(setup: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        (["train", "--config", str(setup["config"]), "--from", str(setup["model"]), "--labels",
          "--db", str(setup["empty"])], "no human labels"),
        (["eval", str(setup["model"]), "labels", "--db", str(setup["empty"])], "no human labels"),
        (["eval", str(setup["model"]), "labels", "--db", str(tmp_path / "none.db")],
         "no database at"),
        (["train", "--config", str(setup["config"]), "--from", str(setup["model"]), "--labels",
          "--db", str(setup["db"]), "--data", str(setup["folder"]), "--sweep",
          "--out", str(tmp_path / "sweep")], "cannot use --labels"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "none.db").exists()  # looking for labels never creates a store
