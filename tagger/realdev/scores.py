"""Window scores of a model on realdev items, computed the way a scan computes them.

Each item's audio is cut into the card's windows (``tagger.pipeline.chunking.frame``, the scanner's
padding) and scored in batches; the result is per-window presence (and foreground)
probabilities, so the report can apply the scanner's own segmenter and decision rule. Scores
are cached per model id and item list, because calibration and ensembles reuse them many times.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tagger.audio.decode import DecodeError, decode
from tagger.pipeline.chunking import frame
from tagger.model.card import ModelCard
from tagger.realdev.sets import Item, data_dir

REF_RMS_DB = -20.0


@dataclass
class WindowScores:
    """Per item: presence [windows, C] and foreground [windows, C] or None, probabilities."""

    model: str
    classes: list[str]
    presence: list[np.ndarray]
    foreground: list[np.ndarray | None]
    durations: list[float]


def _part_audio(path: Path, sample_rate: int, offset_s: float, length: int,
                cache: dict[tuple[str, int], np.ndarray]) -> np.ndarray:
    key = (str(path), sample_rate)
    if key not in cache:
        cache[key] = decode(path, sample_rate=sample_rate)
    audio = cache[key]
    start = int(offset_s * sample_rate)
    return audio[start : start + length]


def item_audio(item: Item, sample_rate: int, root: Path | None = None,
               cache: dict[tuple[str, int], np.ndarray] | None = None) -> np.ndarray:
    """The item as mono float32 at ``sample_rate``: one recording as it is (at most
    ``duration_s``), or the sum of its parts (random mixtures: each looped to the item's
    length and levelled to -20 dBFS RMS plus its gain; natural ones: as recorded)."""
    root = root or data_dir()
    cache = {} if cache is None else cache
    length = int(item.duration_s * sample_rate)
    pieces = [_part_audio(root / p.path, sample_rate, p.offset_s, length, cache)
              for p in item.parts]
    if len(pieces) == 1:
        return pieces[0].astype(np.float32)
    levelled = item.kind == "mixture" and not item.natural
    n = length if levelled else max(len(p) for p in pieces)
    mix = np.zeros(n, dtype=np.float32)
    for part, piece in zip(item.parts, pieces):
        if not len(piece):
            continue
        if levelled:
            piece = np.tile(piece, int(np.ceil(n / len(piece))))[:n]
            rms = float(np.sqrt(np.mean(piece ** 2)) + 1e-8)
            piece = piece * (10 ** ((REF_RMS_DB + part.gain_db) / 20) / rms)
        else:
            piece = piece * 10 ** (part.gain_db / 20)
        mix[: len(piece)] += piece
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    return mix / peak * 0.9 if peak > 0.99 else mix


Scorer = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


@torch.inference_mode()
def score_items(net: Scorer, card: ModelCard, items: Sequence[Item], *, batch_size: int = 16,
                root: Path | None = None, warn: Callable[[str], None] = print) -> WindowScores:
    """Window probabilities of ``net`` (waveform batch -> presence, foreground logits)."""
    window = int(round(card.window_s * card.sample_rate))
    hop = int(round(card.hop_s * card.sample_rate))
    cache: dict[tuple[str, int], np.ndarray] = {}
    presence, foreground, durations = [], [], []
    for item in items:
        try:
            audio = item_audio(item, card.sample_rate, root, cache)
        except DecodeError as exc:
            warn(f"{item.name}: {exc}")
            audio = np.zeros(window, dtype=np.float32)
        windows = frame(audio, window=window, hop=hop)
        pres, fg = [], []
        for start in range(0, len(windows), batch_size):
            p, f = net(torch.from_numpy(windows[start : start + batch_size]))
            pres.append(torch.sigmoid(p.float()).numpy())
            fg.append(None if f is None else torch.sigmoid(f.float()).numpy())
        presence.append(np.concatenate(pres))
        foreground.append(None if fg[0] is None else np.concatenate(fg))  # type: ignore[arg-type]
        durations.append(len(audio) / card.sample_rate)
        if len(cache) > 64:
            cache.clear()
    return WindowScores(card.id, list(card.classes), presence, foreground, durations)


def cache_key(model_id: str, items: Sequence[Item]) -> str:
    names = json.dumps([[i.name, i.duration_s] for i in items])
    return f"{model_id}-{hashlib.sha1(names.encode()).hexdigest()[:10]}"


def save(scores: WindowScores, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for i, (p, f) in enumerate(zip(scores.presence, scores.foreground)):
        arrays[f"p{i}"] = p
        if f is not None:
            arrays[f"f{i}"] = f
    meta = {"model": scores.model, "classes": scores.classes, "durations": scores.durations}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load(path: Path) -> WindowScores:
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        n = len(meta["durations"])
        pres = [data[f"p{i}"] for i in range(n)]
        fg = [data[f"f{i}"] if f"f{i}" in data else None for i in range(n)]
    return WindowScores(meta["model"], meta["classes"], pres, fg, meta["durations"])


def cached_scores(name: str, items: Sequence[Item], cache_dir: Path | None, *,
                  compute: Callable[[], WindowScores]) -> WindowScores:
    """``compute()`` once per model and item list; later calls read the cache file."""
    if cache_dir is None:
        return compute()
    path = cache_dir / f"{cache_key(name, items)}.npz"
    if path.is_file():
        return load(path)
    scores = compute()
    save(scores, path)
    return scores
