"""Turn ``--data`` / ``--eval-data`` / ``tagger eval DATA`` into sources and held-out sets.

A spec is a folder or CSV of labelled audio (``tagger.train.labelled``), ``labels`` (the human
labels of ``tagger label``, ``tagger.train.humanlabels``) or the name of a built-in set. Built-in sets come from the data engine: ``tagger.train.data`` may expose
``EVAL_SETS`` and ``TRAIN_SOURCES``, dicts of ``name -> callable(sample_rate, window_s)``
returning a list of ``Example`` (eval) or an ``ExampleSource`` (train). This module is the one
place that knows both, so the trainer and ``tagger eval`` stay independent of where data lives.

Validation without ``--eval-data`` holds out ``val_fraction`` of each labelled spec *by source*
(recording session / subfolder), never by random clip, so the validation figures measure
generalisation to recordings the model has not heard.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.model.card import ModelCard
from tagger.model.registry import find_card
from tagger.train.config import TrainConfig
from tagger.train.student import config_from_card
from tagger.train.teacher import data_rate
from tagger.train.humanlabels import LABELS_SET, label_eval_set, open_label_inputs
from tagger.train.example import Example, ExampleSource
from tagger.train.data.userdata import FileSource
from tagger.train.labelled import (DataError, LabelledFile, Warn, decode_files, holdout_split,
                                   read_labelled)


@dataclass
class Inputs:
    """What ``train()`` needs, plus the card's ``training_data`` records."""

    sources: list[ExampleSource] = field(default_factory=list)
    eval_sets: dict[str, list[Example]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)  # one per source: its share of draws


DEFAULT_VALIDATION = "heldout"  # the data engine's held-out-sources stream


def _engine() -> Any:
    """The data engine package, imported on first use (its names load lazily themselves)."""
    return importlib.import_module("tagger.train.data")


def _builtin(kind: str) -> dict[str, Callable[..., Any]]:
    """The data engine's named sets (``EVAL_SETS`` / ``TRAIN_SOURCES``), if it offers any."""
    found = getattr(_engine(), kind, None)
    return dict(found) if isinstance(found, dict) else {}


def _engine_records(spec: str, warn: Warn) -> list[dict[str, Any]]:
    """The data engine's own account of its sources and licences, for the card."""
    describe = getattr(_engine(), "training_data", None)
    try:
        rows = list(describe()) if callable(describe) else []
    except Exception as exc:  # the card's bookkeeping must not stop a training run
        warn(f"could not list the sources of {spec!r} for the model card: {exc}")
        rows = []
    return [{"data": spec, "kind": "built-in", "sources": rows}]


def _is_path(spec: str) -> bool:
    if spec == LABELS_SET:  # the human labels, even beside a folder of that name (use ./labels)
        return False
    return Path(spec).expanduser().exists() or "/" in spec or spec.lower().endswith(".csv")


def _unknown(spec: str, kind: str) -> DataError:
    names = sorted(_builtin(kind)) + ([LABELS_SET] if kind == "EVAL_SETS" else [])
    have = f"built-in: {', '.join(names)}" if names else "no built-in sets are installed"
    return DataError(f"{spec}: no such folder or CSV, and no built-in set by that name ({have})")


def set_name(spec: str) -> str:
    """A short name for a spec in logs and the card: the folder or file name."""
    return Path(spec).stem if _is_path(spec) else spec


def load_eval_set(spec: str, classes: list[str], sample_rate: int, window_s: float, *,
                  warn: Warn = print, db: str | os.PathLike[str] | None = None) -> list[Example]:
    """All clips of a labelled folder/CSV, the human labels in ``db`` or a built-in eval set,
    decoded at ``sample_rate``."""
    if spec == LABELS_SET:
        clips = label_eval_set(db, classes, sample_rate)
    elif _is_path(spec):
        files = read_labelled(spec, classes)
        clips = decode_files(files, sample_rate, warn=warn)
    else:
        sets = _builtin("EVAL_SETS")
        if spec not in sets:
            raise _unknown(spec, "EVAL_SETS")
        clips = list(sets[spec](sample_rate, window_s))
    if not clips:
        raise DataError(f"{spec}: no clip could be decoded")
    return clips


def _record(spec: str, files: list[LabelledFile], train: int, held: int) -> dict[str, Any]:
    return {"data": str(Path(spec).expanduser().resolve()), "kind": "labelled",
            "files": len(files), "train_files": train, "validation_files": held,
            "sources": len({f.source for f in files}), "licence": "as provided by the user"}


def _has_negatives(files: list[LabelledFile]) -> bool:
    """Whether any file says a class is absent (not merely unknown)."""
    return any(bool((f.mask * (1.0 - f.presence)).any()) for f in files)


def open_inputs(config: TrainConfig, *, warn: Warn = print) -> Inputs:
    """Sources and validation sets for a training run as ``config.data``/``eval_data`` say.

    Training audio is made at ``data_rate(config)`` (the teacher's rate if higher than the
    student's; with ``--from`` the student is the model fine-tuned, whatever the config's
    defaults say); validation clips at the student's rate, as a scan would feed it. With
    ``config.labels`` the human labels join the sources with ``labels_weight`` of the draws.
    """
    if config.init == "model":  # make data at the rate and length of the model fine-tuned
        config = config_from_card(config, ModelCard.load(find_card(config.from_model)))
    out = Inputs()
    if not config.data and not config.labels:
        raise DataError("no training data: pass --data DIR|CSV (a folder of class folders, or a "
                        "labels CSV), --labels, or set data = [...] in the config")
    hold_out = config.val_fraction if not config.eval_data else 0.0
    rate = data_rate(config)  # training audio at the teacher's rate when that is higher
    labelled: list[list[LabelledFile]] = []
    for spec in config.data:
        if spec == LABELS_SET:
            raise DataError("the human labels are not a --data set: pass --labels (and --db)")
        if not _is_path(spec):
            sources = _builtin("TRAIN_SOURCES")
            if spec not in sources:
                raise _unknown(spec, "TRAIN_SOURCES")
            out.sources.append(sources[spec](rate, config.window_s))
            out.records += _engine_records(spec, warn)
            continue
        files = read_labelled(spec, config.classes)
        labelled.append(files)
        train_idx, val_idx = holdout_split(files, hold_out, config.seed)
        if hold_out > 0 and not val_idx:
            warn(f"{spec}: too few sources to hold any out for validation; "
                 "training without validation figures from this data")
        # Streamed: crops are read as training draws them, so a folder of hours of audio never
        # sits decoded in memory (only the held-out files below are decoded, once).
        out.sources.append(FileSource([files[i] for i in train_idx], spec, sample_rate=rate,
                                      clip_seconds=config.window_s, augment=False,
                                      balanced=True, gain_db=6.0, warn=warn))
        if val_idx:
            held = decode_files([files[i] for i in val_idx], config.sample_rate, warn=warn)
            if held:
                out.eval_sets[f"{set_name(spec)}-heldout"] = held
        out.records.append(_record(spec, files, len(train_idx), len(val_idx)))
    if labelled and not any(_has_negatives(files) for files in labelled) and not config.labels \
            and len(labelled) == len(config.data) and config.distill_weight <= 0:
        warn("the training data names only instruments that are present (a class folder leaves "
             "the others unknown), so nothing teaches the model what is absent: add a 'none' "
             "folder or a CSV with explicit labels, mix in a built-in set, or keep distillation")
    data_sources = len(out.sources)
    out.weights = [(1.0 - config.labels_weight if config.labels else 1.0) / max(data_sources, 1)
                   ] * data_sources
    if config.labels:
        labels = open_label_inputs(config, rate, hold_out, warn=warn)
        out.sources.append(labels.source)
        out.weights.append(config.labels_weight if data_sources else 1.0)
        out.records.append(labels.record)
        if labels.validation:
            out.eval_sets[f"{LABELS_SET}-heldout"] = labels.validation
        if not data_sources:
            warn("training on the human labels alone: the model may forget what they do not "
                 "cover (add --data, e.g. a built-in set, to mix them with)")
    eval_specs = list(config.eval_data)
    builtin_train = any(not _is_path(spec) for spec in config.data)
    if not eval_specs and builtin_train and DEFAULT_VALIDATION in _builtin("EVAL_SETS"):
        # Built-in streams hold their validation sources out already; judge the run on them.
        eval_specs.append(DEFAULT_VALIDATION)
    for spec in eval_specs:
        out.eval_sets[set_name(spec)] = load_eval_set(
            spec, config.classes, config.sample_rate, config.window_s, warn=warn,
            db=config.labels_db)
    return out
