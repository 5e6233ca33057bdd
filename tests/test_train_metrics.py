"""Metrics against hand-worked values, and the AudioSet-initialised head and teacher."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tagger.train.config import DEFAULT_PRETRAINED, TrainConfig
from tagger.train.example import Example
from tagger.train.student import build_model, param_groups
from tagger.train.teacher import build_teacher, data_rate, resample
from tagger.train.loop import train
from tagger.train.metrics import (average_precision, best_f1_threshold, calibrate_thresholds,
                                  confusion_matrix, evaluate_probabilities, roc_auc,
                                  selection_score)


def brute_ap(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP straight from its definition: sum over distinct thresholds of dRecall x precision."""
    ap, last_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        pred = scores >= t
        tp = (pred & labels).sum()
        recall = tp / labels.sum()
        ap += (recall - last_recall) * tp / pred.sum()
        last_recall = recall
    return ap


def test_average_precision_and_auc() -> None:
    y = np.array([1, 0, 1, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.1])
    assert average_precision(y, s) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert roc_auc(y, s) == pytest.approx(0.75)
    assert average_precision(np.array([1, 0], bool), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 0], bool), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert math.isnan(average_precision(np.zeros(3, bool), np.ones(3)))
    assert math.isnan(roc_auc(np.ones(3, bool), np.ones(3)))
    rng = np.random.default_rng(0)
    for _ in range(20):  # random cases with many ties
        y = rng.random(40) < 0.3
        y[0] = True
        s = rng.integers(0, 6, 40) / 5
        assert average_precision(y, s) == pytest.approx(brute_ap(y, s))


def test_thresholds_confusion_and_masks() -> None:
    assert best_f1_threshold(np.array([0, 0, 1, 1], bool), np.array([0.1, 0.4, 0.6, 0.9])) == 0.5
    assert best_f1_threshold(np.zeros(4, bool), np.linspace(0, 1, 4)) == 0.5  # nothing to fit
    labels = np.array([[1, 0], [0, 1], [1, 0], [1, 1]], float)
    probs = np.array([[0.9, 0.2], [0.3, 0.8], [0.4, 0.6], [0.7, 0.9]])
    mask = np.ones_like(labels)
    assert confusion_matrix(labels, probs, mask).tolist() == [[1, 1], [0, 1]]  # row 3: two labels
    rep = evaluate_probabilities(probs, labels, mask, ["a", "b"])
    assert rep.single_label_clips == 3 and rep.top1 == pytest.approx(2 / 3)
    mask[2, 0] = 0  # the mis-ranked "a" is unknown: left out, so "a" ranks perfectly
    rep = evaluate_probabilities(probs, labels, mask, ["a", "b"])
    assert rep.per_class["a"].ap == pytest.approx(1.0)
    thr = calibrate_thresholds(probs, labels, mask, ["a", "b"])
    assert 0.3 < thr["a"] < 0.7
    # Class folders: one class known present, the others unknown. No negatives: AP means
    # nothing (NaN), top-1 on the known class is what is left to choose checkpoints by.
    folders = evaluate_probabilities(probs[:2], labels[:2], np.eye(2), ["a", "b"])
    assert math.isnan(folders.mAP) and folders.single_label_clips == 2 and folders.top1 == 1.0
    assert selection_score(folders) == 1.0 and selection_score(rep) == rep.mAP


needs_mn04 = pytest.mark.skipif(not Path(DEFAULT_PRETRAINED).is_file(), reason="no mn04 weights")


@needs_mn04
def test_audioset_head_starts_as_the_mapped_teacher() -> None:
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(2, 32000)
    config = TrainConfig(window_s=1.0, hop_s=1.0)
    net, card = build_model(config)
    teacher = build_teacher(config)
    with torch.no_grad():
        assert torch.equal(net.eval()(wave)[0], teacher(wave))
    assert card.architecture["num_outputs"] == 40 and card.architecture["head"]["type"] == "audioset_map"
    lrs = {g["name"]: g["lr"] for g in param_groups(net, config)}
    assert lrs["body"] == pytest.approx(config.lr * config.backbone_lr_mult) and lrs["head"] == config.lr
    linear, _ = build_model(config.updated(head="linear"))  # single-row classes copy exactly
    sax = config.classes.index("saxophone")
    with torch.no_grad():
        assert torch.allclose(linear.eval()(wave)[0][:, sax], teacher(wave)[:, sax], atol=1e-4)


@needs_mn04
@pytest.mark.slow  # a training run: loads the AudioSet teacher and takes optimiser steps
def test_a_small_student_distils_from_the_teacher_at_another_rate(tmp_path: Path) -> None:
    config = TrainConfig(init="scratch", head="linear", width_mult=0.1, sample_rate=8000,
                         window_s=1.0, hop_s=1.0, n_mels=32, n_fft=256, win_length=200,
                         hop_length=80, batch_size=4, steps=2, workers=0, threads=1,
                         distill_weight=1.0, log_every=1)
    assert data_rate(config) == 32000  # sources make audio the 32 kHz teacher can hear in full
    t = np.arange(32000) / 32000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    class Flutes:
        def examples(self, rng: np.random.Generator):
            p = np.zeros(14, np.float32)
            p[12] = 1.0
            while True:
                yield Example(tone * rng.uniform(0.5, 1.0), p, p, np.ones(14, np.float32), "x")

    logs: list[dict] = []
    train(config, [Flutes()], {}, tmp_path, write_model=False,
          on_event=lambda k, i: logs.append(i) if k == "step" else None)
    assert len(logs) == 2 and all(math.isfinite(row["train_distill"]) for row in logs)
    down = resample(torch.from_numpy(tone)[None], 32000, 8000)  # 440 Hz stays 440 Hz
    assert down.shape == (1, 8000) and int(torch.fft.rfft(down)[0].abs().argmax()) == 440


def test_score_clips_is_the_max_over_the_scanners_windows(tiny_model: Path) -> None:
    """The benchmarks' scorer windows a clip exactly as a scan does (``chunking.frame``)."""
    from tagger.pipeline.chunking import frame
    from tagger.clip_scoring import score_clips
    from tagger.model.registry import load_model

    net, card = load_model(tiny_model)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (5000, 16000, 37000)]
    got = score_clips(net, card, clips, batch_size=3)
    window, hop = int(card.window_s * card.sample_rate), int(card.hop_s * card.sample_rate)
    with torch.no_grad():
        want = [net.eval()(torch.from_numpy(frame(c, window=window, hop=hop)))[0].max(0).values
                for c in clips]
    assert got.shape == (3, len(card.classes))
    assert np.allclose(got, torch.stack(want).numpy(), atol=1e-5)
