"""The trainer, `tagger train` and `tagger eval` on real encoded audio, with a tiny network.

The data is two classes of synthesized instruments (a breathy high "flute" and a buzzy low
"bass"), encoded to real files by ffmpeg; the network is a 0.1-width MobileNet at 8 kHz so a
few dozen steps take seconds on two cores. What is checked is behaviour (loss falls, resume
continues, cards load, errors are one line), not accuracy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from audiofiles import write_audio
from tagger.cli.app import app
from tagger.model.registry import load_model
from tagger.train.checkpoint import load_checkpoint
from tagger.train.config import ConfigError, TrainConfig, load_config
from tagger.train.inputs import open_inputs
from tagger.train.labelled import DataError, read_labelled
from tagger.train.loop import train

SR = 16000
TINY = dict(init="scratch", head="linear", width_mult=0.1, sample_rate=8000, window_s=1.0,
            hop_s=1.0, n_mels=32, n_fft=256, win_length=200, hop_length=80, batch_size=16,
            lr=3e-3, distill_weight=0.0, workers=0, threads=1, warmup_steps=0, log_every=5,
            val_fraction=0.25, spec_augment=False)


def instrument(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A note with vibrato and noise: airy and high (flute) or buzzy and low (bass)."""
    t = np.arange(int(seconds * SR)) / SR
    if kind == "flute":
        f0 = rng.uniform(600, 1200) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        partials = [(1, 1.0), (2, 0.2)]
        noise = 0.05
    else:
        f0 = np.full_like(t, rng.uniform(50, 110))
        partials = [(k, 1.0 / k) for k in range(1, 9)]
        noise = 0.005
    phase = 2 * np.pi * np.cumsum(f0) / SR
    wave = sum(a * np.sin(k * phase) for k, a in partials)
    wave = wave / np.max(np.abs(wave)) * 0.4 + noise * rng.standard_normal(len(t))
    envelope = np.minimum(1.0, np.minimum(t / 0.05, (t[-1] - t) / 0.1 + 0.01))
    return (wave * envelope).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/flute, DIR/bass: six real encoded files each, in three formats; DIR/none: three of
    noise (a class folder leaves the other classes unknown: these say what absent sounds like)."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(7)
    for kind in ("flute", "bass"):
        (root / kind).mkdir()
        for i in range(6):
            ext = (".wav", ".flac", ".mp3")[i % 3]
            write_audio(root / kind / f"{kind}{i}{ext}", instrument(kind, 1.5, rng), SR)
    (root / "none").mkdir()
    for i in range(3):
        noise = (0.05 * rng.standard_normal(int(1.5 * SR))).astype(np.float32)
        write_audio(root / "none" / f"noise{i}.wav", noise, SR)
    return root


def tiny(**overrides: object) -> TrainConfig:
    return TrainConfig().updated(**{**TINY, **overrides})


@pytest.mark.slow
def test_loss_falls_and_the_model_loads_back(folder: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny(name="tiny-trained", steps=30, eval_every=15, checkpoint_every=15,
                  data=[str(folder)])
    inputs = open_inputs(config, warn=pytest.fail)
    assert len(inputs.eval_sets) == 1  # sources of --data held out for validation
    losses: list[float] = []
    result = train(config, inputs.sources, inputs.eval_sets, tmp_path / "run",
                   on_event=lambda kind, info: losses.append(info["train_loss"]) if kind == "step" else None,
                   training_data=inputs.records)
    assert len(losses) == 6 and losses[-1] < 0.6 * losses[0], losses
    assert result.step == 30 and result.best_step in (0, 15, 30)
    assert [row["step"] for row in result.history] == [0, 15, 30]  # step 0 = the baseline
    card = json.loads((tmp_path / "run" / "tiny-trained.json").read_text())
    assert set(card["thresholds"]) == set(config.classes)
    assert all(0.05 <= v <= 0.95 for v in card["thresholds"].values())
    assert card["validation"]["per_class"]["flute"]["positives"] >= 1
    assert card["training_data"][0]["files"] == 15 and card["reproduce"].startswith("tagger train")
    # The registry finds it by name in a models folder, builds it from the card, strict-loads it.
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(tmp_path / "run"))
    net, loaded = load_model("tiny-trained")
    assert loaded.thresholds == card["thresholds"]
    clip = torch.from_numpy(instrument("bass", 1.0, np.random.default_rng(1))[::2].copy())[None]
    presence, foreground = net(clip)
    assert presence.shape == (1, 14) and foreground is not None


@pytest.mark.slow
def test_same_seed_same_run_and_resume_continues_at_the_step(folder: Path, tmp_path: Path) -> None:
    config = tiny(name="r", steps=8, eval_every=4, checkpoint_every=4, log_every=4,
                  data=[str(folder)], val_fraction=0.0)
    inputs = open_inputs(config)
    logs: dict[str, list[float]] = {"a": [], "b": []}
    for key in logs:
        train(config, inputs.sources, {}, tmp_path / key, write_model=False,
              on_event=lambda k, i, key=key: logs[key].append(i["train_loss"]) if k == "step" else None)
    assert logs["a"] == logs["b"]  # fixed seeds: bit-identical on CPU
    state = load_checkpoint(tmp_path / "a")
    assert state["step"] == 8
    longer = config.updated(steps=12)
    steps: list[int] = []
    result = train(longer, inputs.sources, {}, tmp_path / "a", resume=tmp_path / "a",
                   on_event=lambda k, i: steps.append(i["step"]) if k in ("start", "step") else None)
    assert steps[0] == 8 and steps[1:] == [12] and result.step == 12
    assert [row["step"] for row in result.history] == [4, 8, 12]


@pytest.mark.slow
def test_cli_train_then_eval_prints_metrics_and_writes_plots(folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()
                             if k in ("width_mult", "sample_rate", "n_mels", "n_fft")) +
                   '\n[model]\ninit = "scratch"\nhead = "linear"\nwindow_s = 1.0\nhop_s = 1.0\n'
                   'win_length = 200\nhop_length = 80\n[optim]\ndistill_weight = 0.0\nlr = 3e-3\n'
                   'warmup_steps = 0\n[runtime]\nthreads = 1\nworkers = 1\nlog_every = 5\n',
                   encoding="utf-8")
    run = tmp_path / "cli-run"
    result = runner.invoke(app, ["train", "--config", str(cfg), "--data", str(folder),
                                 "--steps", "10", "--batch-size", "8", "--eval-every", "10",
                                 "--out", str(run), "--name", "cli-tiny", "-q"])
    assert result.exit_code == 0, result.output
    assert (run / "cli-tiny.pt").is_file() and (run / "loss.png").is_file()
    saved = load_config(run / "cli-tiny.train.json")
    assert saved.steps == 10 and saved.batch_size == 8 and saved.workers == 1
    # A corrupt file in the eval data is a warning, not a failure.
    (folder / "bass" / "broken.mp3").write_bytes(b"ID3" + b"\x00" * 200)
    try:
        plots = tmp_path / "plots"
        result = runner.invoke(app, ["eval", str(run / "cli-tiny.json"), str(folder),
                                     "--plots", str(plots)])
        assert result.exit_code == 0, result.output
        assert "mAP" in result.output and "flute" in result.output and "broken.mp3" in result.output
        assert {p.name for p in plots.glob("*.png")} == {"ap.png", "confusion.png", "loss.png"}
        result = runner.invoke(app, ["eval", str(run / "cli-tiny.json"), str(folder), "--json", "-q"])
        doc = json.loads(result.stdout)
        assert doc["clips"] == 15 and doc["single_label_clips"] == 12 and len(doc["skipped"]) == 1
        assert doc["per_class"]["bass"]["positives"] == 6 and doc["per_class"]["voice"]["ap"] is None
        # Flute clips say nothing about bass (unknown, not absent): only "none" clips are negatives.
        assert doc["per_class"]["bass"]["negatives"] == 3
    finally:
        (folder / "bass" / "broken.mp3").unlink()


def test_bad_input_gives_one_line_errors(folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad"
    (bad / "kazoo").mkdir(parents=True)
    write_audio(bad / "kazoo" / "a.wav", instrument("flute", 0.5, np.random.default_rng(0)), SR)
    empty = tmp_path / "empty"
    (empty / "flute").mkdir(parents=True)
    cases = [
        (["train", "--data", str(bad), "--steps", "1"], "unknown instrument 'kazoo'"),
        (["train", "--data", str(empty), "--steps", "1"], "no audio files in"),
        (["train", "--data", str(tmp_path / "nope")], "no such folder or CSV"),
        (["train", "--steps", "1"], "no training data"),
        (["train", "--data", str(folder), "--init", "nonsense"], "init must be one of"),
        (["train", "--resume", str(tmp_path)], "no checkpoint at"),
        (["eval", "no-such-model", str(folder)], "no model 'no-such-model'"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, (args, result.output)
    with pytest.raises(DataError, match="group"):
        (tmp_path / "grp" / "guitar").mkdir(parents=True)
        read_labelled(tmp_path / "grp", TrainConfig().classes)
    with pytest.raises(ConfigError, match="unknown config key"):
        TrainConfig().updated(learning_rate=1.0)


def test_class_folders_alone_warn_that_nothing_teaches_absence(folder: Path, tmp_path: Path) -> None:
    only = tmp_path / "only"
    for kind in ("flute", "bass"):
        (only / kind).mkdir(parents=True)
        (only / kind / "a.wav").symlink_to(next((folder / kind).glob("*.wav")))
    warnings: list[str] = []
    inputs = open_inputs(tiny(data=[str(only)], val_fraction=0.0), warn=warnings.append)
    assert len(warnings) == 1 and "'none' folder" in warnings[0]
    example = next(inputs.sources[0].examples(np.random.default_rng(0)))
    assert example.mask.sum() == 1 and example.presence @ example.mask == 1  # the rest unknown
    open_inputs(tiny(data=[str(folder)], val_fraction=0.0), warn=pytest.fail)  # has "none"


def test_labels_csv_with_foreground_and_unknown_classes(folder: Path, tmp_path: Path) -> None:
    classes = TrainConfig().classes
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "path,labels,foreground,unknown,source\n"
        f"{folder}/flute/flute0.wav,flute;Bass,flute,voice,session1\n"
        f"{folder}/bass/bass1.flac,,,,\n", encoding="utf-8")
    first, second = read_labelled(csv_path, classes)
    idx = {c: i for i, c in enumerate(classes)}
    assert first.presence[idx["flute"]] == first.presence[idx["bass"]] == 1 == first.presence.sum() / 2
    assert first.foreground.sum() == 1 and first.mask[idx["voice"]] == 0 and first.source == "session1"
    assert second.presence.sum() == 0 and second.mask.min() == 1 and second.source == "bass1"
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,flute\n", encoding="utf-8")
    with pytest.raises(DataError, match="needs columns 'path' and 'labels'"):
        read_labelled(tmp_path / "bad.csv", classes)


@pytest.mark.slow
def test_sweep_writes_a_table_a_plot_and_the_best_config(folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({**TINY, "steps": 4, "batch_size": 8}), encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(cfg), "--data", str(folder), "--sweep",
                                 "--trials", "2", "--folds", "2", "--out", str(tmp_path / "sw"), "-q"])
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "sw" / "sweep.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("trial,lr,weight_decay,batch_size,mAP_mean")
    assert (tmp_path / "sw" / "sweep.png").stat().st_size > 1000
    best = load_config(tmp_path / "sw" / "best.train.json")
    assert best.batch_size in (16, 32, 64) and not math.isnan(best.lr)


@pytest.mark.slow
def test_fine_tune_can_retime_a_models_frontend_with_itself_as_teacher(
        folder: Path, tmp_path: Path) -> None:
    """``from_hop_length``: the fine-tuned model hears half the frames; the original teaches it."""
    from conftest import make_tiny_model

    original = make_tiny_model(tmp_path / "models")  # 8 kHz, hop 80
    config = tiny(init="model", from_model=str(original), from_hop_length=160,
                  teacher=str(original), distill_weight=1.0, steps=4, eval_every=4,
                  checkpoint_every=4, name="retimed", data=[str(folder)])
    inputs = open_inputs(config, warn=lambda _: None)
    events: list[tuple[str, dict]] = []
    train(config, inputs.sources, inputs.eval_sets, tmp_path / "run",
          on_event=lambda kind, info: events.append((kind, info)), training_data=inputs.records)
    steps = [info for kind, info in events if kind == "step"]
    assert steps and all(math.isfinite(info["train_loss"]) for info in steps)
    retimed, card = load_model(tmp_path / "run" / "retimed.json")
    before, _ = load_model(original)
    assert card.frontend.hop_length == 160 and card.sample_rate == 8000
    clip = torch.zeros(1, 16000)
    assert retimed.spectrogram(clip).shape[-1] * 2 - before.spectrogram(clip).shape[-1] in (0, 1)
    assert load_config(tmp_path / "run" / "retimed.train.json").hop_length == 160
    with pytest.raises(ConfigError, match="from_hop_length"):
        tiny(from_hop_length=160)  # init scratch: nothing to re-time


def test_data_folders_stream_class_balanced_crops_and_skip_unreadable_files(
        folder: Path, tmp_path: Path) -> None:
    """``--data`` is read as training draws it (never decoded whole into memory), balanced by
    class, and an unreadable file is one warning before training, not a failure."""
    lopsided = tmp_path / "lopsided"
    for kind, count in (("flute", 5), ("bass", 1)):
        (lopsided / kind).mkdir(parents=True)
        for src in sorted((folder / kind).glob("*"))[:count]:
            (lopsided / kind / src.name).symlink_to(src)
    (lopsided / "flute" / "broken.wav").write_bytes(b"RIFF" + b"\x00" * 64)
    warnings: list[str] = []
    inputs = open_inputs(tiny(data=[str(lopsided)], val_fraction=0.0), warn=warnings.append)
    unreadable = [w for w in warnings if "unreadable" in w]
    assert len(unreadable) == 1 and "broken.wav" in unreadable[0], warnings
    draws = inputs.sources[0].examples(np.random.default_rng(0))
    bass = sum(int(next(draws).presence[TrainConfig().classes.index("bass")]) for _ in range(300))
    assert 0.4 < bass / 300 < 0.6, bass  # 1 file in 6, drawn about half the time
    example = next(draws)
    assert example.audio.shape == (8000,) and example.audio.dtype == np.float32  # 1 s at 8 kHz
