"""Stems (one instrument's part, with exact labels) and the on-disk cache that holds them.

Why stems and not finished mixes: a mix made at training time from stems gives a new clip every
step (different partners, levels, windows, effects) with labels computed from what actually
sounds in the window, and the slow work (rendering MIDI, decoding mp3) happens once.

Cache layout: one *shard* per recipe, three files named by a hash of the recipe, so a re-run with
the same recipe finds its shard and skips the work:

- ``<key>.npy``      int16 audio of all stems in the shard, concatenated (memory-mapped on load,
                     so DataLoader workers share one copy through the page cache)
- ``<key>.env.npy``  float16 activity envelopes (RMS per 10 ms at unit level), concatenated
- ``<key>.json``     the recipe and per-stem metadata; written last, so a shard without it is an
                     interrupted write and is ignored
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tagger.train.data.audio import CACHE_SR, ENV_RATE, resample, to_int16, unit_level

# Bump when stored stems would differ for the same recipe (e.g. a normalisation change).
CACHE_VERSION = 1


@dataclass
class Stem:
    """One part on its own track: audio plus what it is and where it came from.

    ``classes`` are the taxonomy classes this part sounds as (empty for a distractor such as an
    oboe); ``masked`` are classes whose label is unknown while it sounds (a bass clarinet may or
    may not count as "clarinet"). ``group`` ties stems rendered on one timeline (a song), so a
    mix can use several of them in sync; stand-alone stems have ``group == ""``.
    """

    audio: np.ndarray  # int16 mono at ``sample_rate``
    factor: float  # float audio at unit level = audio * factor
    env: np.ndarray  # float16 RMS per 10 ms at unit level
    classes: tuple[str, ...]
    masked: tuple[str, ...] = ()
    source: str = ""  # e.g. "sf:fluid", "philharmonia", "hydrogen:BJA_Pacific"
    family: str = ""  # independent sample set, for holding out (fluid and musescore share one)
    group: str = ""
    role: str = "solo"  # lead | accomp | drums | solo | distractor
    licence: str = ""
    origin: str = ""  # what it was made from, for the data card and debugging
    sample_rate: int = CACHE_SR

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate

    def segment(self, start: int, length: int) -> np.ndarray:
        """Unit-level float32 samples [start, start+length), zero outside the stem."""
        out = np.zeros(length, dtype=np.float32)
        a, b = max(start, 0), min(start + length, len(self.audio))
        if b > a:
            out[a - start : b - start] = self.audio[a:b] * np.float32(self.factor)
        return out

    def meta(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "masked": list(self.masked), "source": self.source,
                "family": self.family, "group": self.group, "role": self.role,
                "licence": self.licence, "origin": self.origin}


def make_stem(x: np.ndarray, sample_rate: int = CACHE_SR, **meta: Any) -> Stem:
    """Normalise float audio to unit active level and pack it as a :class:`Stem`."""
    if sample_rate != CACHE_SR:
        x = resample(x, sample_rate, CACHE_SR)
    scaled, env, _ = unit_level(np.asarray(x, dtype=np.float32), CACHE_SR)
    q, factor = to_int16(scaled)
    meta["classes"] = tuple(meta.get("classes", ()))
    meta["masked"] = tuple(meta.get("masked", ()))
    return Stem(audio=q, factor=factor, env=env.astype(np.float16), **meta)


def recipe_key(recipe: dict[str, Any]) -> str:
    """Stable hash of a JSON-able recipe (plus the cache version): the shard's file name."""
    blob = json.dumps({"v": CACHE_VERSION, **recipe}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class StemCache:
    """A folder of shards. ``get``/``put`` by recipe; ``load`` everything for a bank."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    def path(self, recipe: dict[str, Any]) -> Path:
        return self.root / f"{recipe_key(recipe)}.json"

    def has(self, recipe: dict[str, Any]) -> bool:
        return self.path(recipe).exists()

    def put(self, recipe: dict[str, Any], stems: list[Stem]) -> Path:
        """Write a shard atomically (audio first, metadata last as the commit marker)."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = recipe_key(recipe)
        audio = np.concatenate([s.audio for s in stems]) if stems else np.zeros(0, np.int16)
        env = np.concatenate([s.env for s in stems]) if stems else np.zeros(0, np.float16)
        items, a_off, e_off = [], 0, 0
        for s in stems:
            items.append({**s.meta(), "factor": s.factor, "offset": a_off, "length": len(s.audio),
                          "env_offset": e_off, "env_length": len(s.env)})
            a_off += len(s.audio)
            e_off += len(s.env)
        for suffix, arr in ((".npy", audio), (".env.npy", env)):
            tmp = self.root / f"{key}{suffix}.tmp{os.getpid()}"
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
            os.replace(tmp, self.root / f"{key}{suffix}")
        doc = {"version": CACHE_VERSION, "sample_rate": CACHE_SR, "recipe": recipe, "stems": items}
        tmp = self.root / f"{key}.json.tmp{os.getpid()}"
        tmp.write_text(json.dumps(doc, default=str))
        os.replace(tmp, self.root / f"{key}.json")
        return self.root / f"{key}.json"

    def shards(self) -> list[Path]:
        return sorted(self.root.glob("*.json")) if self.root.is_dir() else []

    def load_shard(self, meta_path: Path) -> list[Stem]:
        doc = json.loads(meta_path.read_text())
        if doc.get("version") != CACHE_VERSION:
            return []
        key = meta_path.name[: -len(".json")]
        audio = np.load(self.root / f"{key}.npy", mmap_mode="r")
        env = np.load(self.root / f"{key}.env.npy", mmap_mode="r")
        stems = []
        for it in doc["stems"]:
            a, e = it["offset"], it["env_offset"]
            stems.append(Stem(
                audio=audio[a : a + it["length"]], factor=float(it["factor"]),
                env=env[e : e + it["env_length"]], classes=tuple(it["classes"]),
                masked=tuple(it["masked"]), source=it["source"], family=it["family"],
                group=it["group"], role=it["role"], licence=it["licence"], origin=it["origin"],
                sample_rate=int(doc["sample_rate"])))
        return stems

    def load(self) -> "StemBank":
        stems: list[Stem] = []
        for p in self.shards():
            stems.extend(self.load_shard(p))
        return StemBank(stems)


@dataclass
class StemBank:
    """All stems available to a mixer, indexed by class, source and song group."""

    stems: list[Stem]
    by_class: dict[str, list[int]] = field(init=False)
    groups: dict[str, list[int]] = field(init=False)
    distractors: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.by_class = defaultdict(list)
        self.groups = defaultdict(list)
        self.distractors = []
        for i, s in enumerate(self.stems):
            for c in s.classes:
                self.by_class[c].append(i)
            if not s.classes:
                self.distractors.append(i)
            if s.group:
                self.groups[s.group].append(i)
        self.by_class, self.groups = dict(self.by_class), dict(self.groups)

    def __len__(self) -> int:
        return len(self.stems)

    def __iter__(self) -> Iterator[Stem]:
        return iter(self.stems)

    @property
    def sample_rate(self) -> int:
        return self.stems[0].sample_rate if self.stems else CACHE_SR

    def filter(self, keep: Any) -> "StemBank":
        """A bank of the stems for which ``keep(stem)`` is true."""
        return StemBank([s for s in self.stems if keep(s)])

    def at_rate(self, sample_rate: int) -> "StemBank":
        """The same stems at ``sample_rate`` (resampled once, in memory; envelopes unchanged)."""
        if all(s.sample_rate == sample_rate for s in self.stems):
            return self
        out = []
        for s in self.stems:
            x = resample(np.asarray(s.audio, dtype=np.float32) * s.factor, s.sample_rate,
                         sample_rate)
            q, factor = to_int16(x)
            out.append(replace(s, audio=q, factor=factor, sample_rate=sample_rate))
        return StemBank(out)

    def summary(self) -> list[dict[str, Any]]:
        """Per (source, class): stems, seconds and licences, for logs and the model card."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for s in self.stems:
            for c in s.classes or ("(none)",):
                r = rows.setdefault((s.source, c), {"source": s.source, "family": s.family,
                                                    "class": c, "stems": 0, "seconds": 0.0,
                                                    "licences": set()})
                r["stems"] += 1
                r["seconds"] += s.seconds
                r["licences"].add(s.licence)
        out = []
        for key in sorted(rows):
            r = rows[key]
            out.append({**r, "seconds": round(r["seconds"], 1), "licences": sorted(r["licences"])})
        return out


def envelope_frames(sample_start: int, n_samples: int, sample_rate: int) -> tuple[int, int]:
    """The envelope frames [f0, f1) covering samples [start, start+n) at ``sample_rate``."""
    f0 = int(np.floor(sample_start * ENV_RATE / sample_rate))
    f1 = int(np.ceil((sample_start + n_samples) * ENV_RATE / sample_rate))
    return f0, f1
