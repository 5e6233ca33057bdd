"""Pre-render the stem cache: ``python -m tagger.train.data.build --cache DIR [--quick]``.

Why a separate step: rendering and decoding take minutes; mixing from the cache takes
milliseconds. Every shard is keyed by a hash of its recipe, so a re-run only does what is
missing, and an interrupted build resumes. The cache's ``index.json`` lists the shards of the
last full build (``index-quick.json``: the last quick one; other shards are ignored), and
``training_data.json`` lists every source with its licence, for the model card.

Missing pieces are warnings (named with the package to install), not failures, unless
``--strict``: a build on a machine without ``../shared/data`` still renders SoundFont songs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tagger.train.data import corpus, debian, real
from tagger.train.data.content import generated_song
from tagger.train.data.deps import INSTALL_HINT, MissingDependency
from tagger.train.data.gm import (
    available_soundfonts,
    fluidsynth_available,
    missing_soundfonts,
)
from tagger.train.data.render import render_songs
from tagger.train.data.stems import Stem, StemBank, StemCache, recipe_key

RENDER_VERSION = 1
DEFAULT_CACHE = Path("~/.cache/tagger/stems").expanduser()


@dataclass(frozen=True)
class Plan:
    """How much to render: batches x songs for each content kind, and which real data."""

    generated: tuple[int, int] = (3, 8)
    mma: tuple[int, int] = (6, 8)
    music21: tuple[int, int] = (5, 8)
    bars: int = 12
    real_groups: int | None = None  # None = all manifest groups
    hydrogen_kits: int | None = None
    klettres_langs: int | None = None
    fonts: tuple[str, ...] | None = None  # None = every installed SoundFont
    # mirdata-fixture datasets to *train* on (default none: they are for checking); whatever is
    # named here is left out of every eval set automatically.
    train_fixtures: tuple[str, ...] = ()


FULL = Plan()
QUICK = Plan(generated=(1, 3), mma=(1, 2), music21=(1, 2), bars=6, real_groups=4,
             hydrogen_kits=2, klettres_langs=2)


def _seed(recipe: dict[str, Any]) -> np.random.Generator:
    return np.random.default_rng(int(recipe_key(recipe)[:12], 16))


def _song_task(kind: str, batch: int, n: int, bars: int, fonts: list[str], cache: Path
               ) -> tuple[dict[str, Any], Callable[[], list[Stem]]]:
    recipe = {"kind": "songs", "v": RENDER_VERSION, "gen": kind, "batch": batch, "n": n,
              "bars": bars, "fonts": fonts}

    def run() -> list[Stem]:
        rng = _seed(recipe)
        font_objs = available_soundfonts(tuple(fonts))
        songs = []
        if kind == "generated":
            songs = [generated_song(rng, f"gen:{batch}:{i}", bars=bars) for i in range(n)]
        elif kind == "mma":
            grooves = corpus.mma_grooves()
            for i in range(n * 2):
                song = corpus.mma_song(str(rng.choice(grooves)), rng, f"mma:{batch}:{i}",
                                       bars=bars)
                if song is not None:
                    songs.append(song)
                if len(songs) == n:
                    break
        else:
            for name in corpus.corpus_pick(n, rng):
                song = corpus.music21_song(name, cache, rng, max_s=bars * 2.0)
                if song is not None:
                    songs.append(song)
        return render_songs(songs, font_objs, rng)

    return recipe, run


def plan_tasks(cache: Path, plan: Plan, real_root: Path, *, allow_restricted: bool = False
               ) -> tuple[list[tuple[dict[str, Any], Callable[[], list[Stem]]]], list[str]]:
    """(recipe, work) pairs for everything the plan asks for, and warnings about what is not
    installed (each names what to install)."""
    tasks: list[tuple[dict[str, Any], Callable[[], list[Stem]]]] = []
    notes: list[str] = []
    try:
        fonts = [f.name for f in available_soundfonts(plan.fonts)]
        for f in missing_soundfonts():
            if plan.fonts is None or f.name in plan.fonts:
                notes.append(f"SoundFont {f.name} missing: install Debian package {f.package}")
    except MissingDependency as exc:
        fonts = []
        notes.append(str(exc))
    if fonts and not fluidsynth_available():
        fonts = []
        notes.append("fluidsynth is not installed: install Debian package fluidsynth "
                     f"({INSTALL_HINT})")
    kinds = [("generated", plan.generated), ("mma", plan.mma), ("music21", plan.music21)]
    for kind, (batches, n) in kinds if fonts else []:
        if batches == 0 or n == 0:
            continue
        if kind == "mma" and not (corpus.MMA_LIB.is_dir() and shutil.which("mma")):
            notes.append("mma grooves missing: install Debian package mma")
            continue
        if kind == "music21":
            try:
                corpus.require_music21()
            except MissingDependency as exc:
                notes.append(str(exc))
                continue
        tasks += [_song_task(kind, b, n, plan.bars, fonts, cache) for b in range(batches)]
    groups = real.training_groups(real.read_manifest(real_root), allow_restricted=allow_restricted)
    if not groups:
        notes.append(f"no real recordings under {real_root} (set TAGGER_REAL_DATA)")
    names = list(groups)
    if plan.real_groups is not None:  # a spread-out subset, not the first folders A-Z
        names = names[:: max(1, len(names) // max(1, plan.real_groups))][: plan.real_groups]
    for name in names:
        rows = groups[name]
        rows = rows[:12] if plan.real_groups is not None else rows
        tasks.append((real.group_recipe(name, rows),
                      lambda name=name, rows=rows: real.group_stems(
                          name, rows, _seed(real.group_recipe(name, rows)))))
    if plan.train_fixtures:
        recipe = {"kind": "fixtures", "v": real.REAL_VERSION, "datasets": sorted(
            plan.train_fixtures), "root": str(Path(real_root).resolve())}
        tasks.append((recipe, lambda: real.fixture_stems(real_root, plan.train_fixtures)))
    kits = debian.hydrogen_kits()
    if not kits:
        notes.append("Hydrogen drum kits missing: install Debian package hydrogen-drumkits")
    for kit in kits[: plan.hydrogen_kits]:
        tasks.append((debian.kit_recipe(kit),
                      lambda kit=kit: debian.kit_stems(kit, _seed(debian.kit_recipe(kit)))))
    langs = debian.klettres_languages()
    if not langs:
        notes.append("KLettres speech missing: install Debian package klettres-data")
    for lang in langs[: plan.klettres_langs]:
        tasks.append((debian.klettres_recipe(lang),
                      lambda lang=lang: debian.klettres_stems(
                          lang, _seed(debian.klettres_recipe(lang)))))
    return tasks, notes


def build_cache(cache: str | Path = DEFAULT_CACHE, *, quick: bool = False,
                real_root: str | Path = real.DEFAULT_REAL_ROOT, plan: Plan | None = None,
                strict: bool = False, allow_restricted: bool = False,
                log: Callable[[str], None] | None = None) -> StemBank:
    """Render whatever is missing from ``cache`` and return the bank of the whole build."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    store = StemCache(cache)
    plan = plan or (QUICK if quick else FULL)
    tasks, notes = plan_tasks(store.root, plan, Path(real_root),
                              allow_restricted=allow_restricted)
    for note in notes:
        if strict:
            raise MissingDependency(note)
        warnings.warn(note, stacklevel=2)
    if not tasks:
        raise MissingDependency("nothing to build: " + "; ".join(notes))
    keys = []
    t0 = time.time()
    for i, (recipe, work) in enumerate(tasks, 1):
        keys.append(recipe_key(recipe))
        if store.has(recipe):
            continue
        label = (recipe.get("group") or recipe.get("kit") or recipe.get("lang")
                 or ",".join(recipe.get("datasets", [])) or
                 f"{recipe.get('gen')} batch {recipe.get('batch')}")
        t = time.time()
        stems = work()
        store.put(recipe, stems)
        log(f"[{i}/{len(tasks)}] {recipe['kind']} {label}: {len(stems)} stems, "
            f"{sum(s.seconds for s in stems):.0f} s audio in {time.time() - t:.1f} s")
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / _index_name(quick)).write_text(json.dumps({"shards": keys}))
    bank = load_bank(store.root, quick=quick)
    card = "training_data-quick.json" if quick else "training_data.json"
    (store.root / card).write_text(json.dumps(bank.summary(), indent=1))
    log(f"cache {store.root}: {len(bank)} stems, {sum(s.seconds for s in bank) / 3600:.2f} h, "
        f"built in {time.time() - t0:.0f} s")
    return bank


def prune(cache: str | Path) -> int:
    """Delete shards that neither the full nor the quick index lists; returns files removed.

    Recipes change (new SoundFonts installed, a new render version) and old shards would pile
    up; they are only deleted on request, since another checkout may still use them.
    """
    root = StemCache(cache).root
    keep: set[str] = set()
    for name in (_index_name(False), _index_name(True)):
        if (root / name).exists():
            keep.update(json.loads((root / name).read_text())["shards"])
    removed = 0
    for meta in root.glob("*.json"):
        key = meta.name[: -len(".json")]
        if key.startswith(("index", "training_data")) or key in keep:
            continue
        for f in (meta, root / f"{key}.npy", root / f"{key}.env.npy"):
            if f.exists():
                f.unlink()
                removed += 1
    return removed


def _index_name(quick: bool) -> str:
    return "index-quick.json" if quick else "index.json"


def load_bank(cache: str | Path = DEFAULT_CACHE, *, quick: bool | None = None) -> StemBank:
    """The stems of the last full (or, with ``quick``, quick) build in ``cache``.

    ``quick=None`` takes the full build if there is one, else the quick one, else every shard.
    Quick and full builds keep separate indexes, so a quick test build in the same folder never
    shrinks the full training set.
    """
    store = StemCache(cache)
    names = [_index_name(bool(quick))] if quick is not None else [_index_name(False),
                                                                   _index_name(True)]
    index = next((store.root / n for n in names if (store.root / n).exists()), None)
    if index is None:
        return store.load() if quick is None else StemBank([])
    keys = json.loads(index.read_text())["shards"]
    stems: list[Stem] = []
    for k in keys:
        path = store.root / f"{k}.json"
        if path.exists():
            stems.extend(store.load_shard(path))
    return StemBank(stems)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="stem cache folder")
    ap.add_argument("--quick", action="store_true", help="a small subset (tests, CI)")
    ap.add_argument("--real", default=str(real.DEFAULT_REAL_ROOT), help="real-recordings root")
    ap.add_argument("--strict", action="store_true", help="fail on anything missing")
    ap.add_argument("--train-on-fixtures", default="", metavar="DATASET,...",
                    help="also train on these mirdata-fixtures datasets (e.g. vocadito,"
                         "dagstuhl_choirset); they then leave the eval sets")
    ap.add_argument("--prune", action="store_true",
                    help="delete shards no index uses (left by older recipes)")
    ap.add_argument("--allow-restricted", action="store_true",
                    help="also train on non-commercial / unclear-licence recordings")
    args = ap.parse_args(argv)
    try:
        fixtures = tuple(d for d in args.train_on_fixtures.split(",") if d)
        plan = replace(QUICK if args.quick else FULL, train_fixtures=fixtures)
        bank = build_cache(args.cache, quick=args.quick, real_root=args.real, strict=args.strict,
                           allow_restricted=args.allow_restricted, plan=plan)
    except MissingDependency as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.prune:
        print(f"pruned {prune(args.cache)} stale files", file=sys.stderr)
    by_class: dict[str, float] = {}
    for s in bank:
        for c in s.classes or ("(distractor)",):
            by_class[c] = by_class.get(c, 0.0) + s.seconds
    for c, secs in sorted(by_class.items()):
        print(f"{c:18s} {secs / 60:7.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
