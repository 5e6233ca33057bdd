"""The benchmarks a model is judged on, the decision rule they calibrate, and the ensemble.

The example-library tests scan the real bundled library with the shipped default model; the
realdev tests need ../shared/data/real and are skipped without it.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tagger.model.registry import ModelNotFoundError, load_model, models_dir
from tagger.realdev.report import NO_POSITIVES, ap_per_class, presence
from tagger.realdev.sets import data_dir, is_reserved, realdev_items, source_group
from tagger.pipeline.segments import SegmenterConfig, segment_track
from tagger.taxonomy import CLASSES

needs_real = pytest.mark.skipif(not (data_dir() / "manifest.csv").is_file(),
                                reason="no ../shared/data/real beside the checkout")


def _config(**kw) -> SegmenterConfig:
    return SegmenterConfig(classes=["a", "b"], thresholds=[0.5, 0.5], window_s=5.0, hop_s=5.0,
                           smooth_chunks=1, **kw)


def test_track_gate_drops_a_class_below_its_track_threshold_or_evidence() -> None:
    probs = np.array([[0.9, 0.6], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]], dtype=np.float32)
    segs, summary = segment_track(probs, None, duration_s=20.0, config=_config())
    assert {s.instrument for s in segs} == {"a", "b"}
    gated, summary = segment_track(probs, None, duration_s=20.0,
                                   config=_config(track_thresholds=[0.5, 0.7]))
    assert {s.instrument for s in gated} == {"a"}
    assert [m.coverage for m in summary] == [1.0, 0.0]  # b: not present, score kept for ranking
    assert summary[1].score == pytest.approx(0.6)
    brief, _ = segment_track(probs, None, duration_s=20.0, config=_config(min_evidence_s=10.0))
    assert {s.instrument for s in brief} == {"a"}  # b has 5 s of evidence, not 10


def test_a_class_without_positives_is_reported_as_such_never_nan() -> None:
    labels = np.array([[True, False], [False, False]])
    known = np.ones_like(labels)
    aps = ap_per_class(np.array([[0.9, 0.2], [0.1, 0.8]]), labels, known, ["a", "b"])
    assert aps == {"a": 1.0, "b": NO_POSITIVES}
    figures = presence(np.array([[True, True], [False, False]]), labels, known, ["a", "b"])
    assert figures.precision == 0.5 and figures.recall == 1.0
    assert figures.per_class["b"]["recall"] == NO_POSITIVES


@pytest.mark.slow
def test_default_model_answers_the_example_library_with_few_wrong_instruments(tmp_path) -> None:
    db = tmp_path / "demo.db"
    tagger = [sys.executable, "-m", "tagger"]
    scan = subprocess.run([*tagger, "scan", "examples/library", "--db", str(db), "-q"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert scan.returncode == 1, scan.stderr  # broken.mp3 and notes.flac are bad on purpose
    sax = subprocess.run([*tagger, "query", "--db", str(db), "--has", "sax", "--paths"],
                         capture_output=True, text=True, check=True)
    assert [Path(p).name for p in sax.stdout.split()] == ["01-blue-room-sax-quartet.mp3"]
    piano = subprocess.run([*tagger, "show", "--db", str(db), "--json",
                            "examples/library/03-night-study-piano.flac"],
                           capture_output=True, text=True, check=True,
                           cwd=Path(__file__).parents[1])
    shown = json.loads(piano.stdout)
    assert {s["instrument"] for s in shown["segments"]} == {"piano"}


@pytest.mark.slow
def test_examples_benchmark_scores_a_real_scan_against_the_answers() -> None:
    from tagger.realdev.bench import run_examples

    res = run_examples(None, workers=1)
    assert res["right"] + res["missed"] == 32  # instruments in ANSWERS.json
    assert res["precision"] >= 0.75 and res["recall"] >= 0.65  # tagger-fast 0.3: 0.76 / 0.69

    from rich.console import Console

    from tagger.cli.eval_bench import print_examples

    screen = Console(file=io.StringIO(), width=80, force_terminal=False)
    print_examples(res, screen)
    text = screen.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = set(text.replace(",", " ").split())
    for name, track in res["tracks"].items():  # whole names: none cut or broken across lines
        assert name in words
        assert set(track["reported"]) | set(track["missed"]) <= words


@pytest.mark.slow
def test_ensemble_is_the_mean_of_its_members_probabilities() -> None:
    ens, card = load_model("tagger-ensemble")
    rng = np.random.default_rng(0)
    t = np.arange(5 * 32000) / 32000
    wave = torch.from_numpy((0.3 * np.sin(2 * np.pi * 440 * t) * (1 + rng.random(len(t)) * 0.1)
                             ).astype(np.float32))[None]
    with torch.no_grad():
        logits, role = ens(wave)
        probs = []
        for member, resample in zip(ens.members, ens.resample):
            probs.append(torch.sigmoid(member(resample(wave))[0]))
    assert logits.shape == (1, len(CLASSES)) and role is not None  # tagger-fast's role head
    torch.testing.assert_close(torch.sigmoid(logits), torch.stack(probs).mean(0), atol=1e-5,
                               rtol=1e-4)


def test_missing_member_or_weights_is_one_line_naming_it(tmp_path, monkeypatch) -> None:
    for name in ("tagger-as", "tagger-fast", "tagger-yamnet"):
        (tmp_path / f"{name}.json").write_text((models_dir() / f"{name}.json").read_text())
    for name in ("tagger-as", "tagger-fast"):
        (tmp_path / f"{name}.pt").write_bytes((models_dir() / f"{name}.pt").read_bytes())
    card = json.loads((models_dir() / "tagger-ensemble.json").read_text())
    (tmp_path / "tagger-ensemble.json").write_text(json.dumps(card))
    card["name"], card["architecture"]["members"][0]["model"] = "bad-ensemble", "no-such-model"
    (tmp_path / "bad-ensemble.json").write_text(json.dumps(card))
    monkeypatch.setenv("TAGGER_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as missing_weights:
        load_model("tagger-ensemble")
    assert "tagger-yamnet.pt" in str(missing_weights.value)
    assert "\n" not in str(missing_weights.value)
    with pytest.raises(ModelNotFoundError, match="member no model 'no-such-model'"):
        load_model("bad-ensemble")
    load_model("tagger-as")  # the other models still work


@needs_real
def test_realdev_is_split_by_source_and_never_trained_on() -> None:
    from tagger.train.data.real import read_manifest, training_groups

    items = realdev_items()
    folds: dict[str, set[int]] = {}
    for item in items:
        folds.setdefault(source_group(item), set()).add(item.fold)
        assert all(c in CLASSES for c in item.present | item.unknown)
    assert all(len(f) == 1 for f in folds.values())  # a source group lives in one fold
    assert {i.fold for i in items} == {0, 1}
    trained = [r for rows in training_groups(read_manifest(data_dir())).values() for r in rows]
    assert trained and not any(is_reserved(r.source) for r in trained)
    assert sum(i.kind == "mixture" and i.natural for i in items) >= 10
