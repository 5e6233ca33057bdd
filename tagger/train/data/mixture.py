"""Mix stems into labelled training clips, fast, with labels from what sounds in the window.

Label rules (the contract the tests check):

- a stem is **present** in a clip when it sounds (envelope above -30 dB of its own typical
  level) for at least ``MIN_ACTIVE_S`` inside the window *and* its level is within
  ``AUDIBLE_DB`` of the loudest stem; a part that is silent in the window is absent even if it
  plays elsewhere in its song;
- a class is **foreground** when its energy in the window (silent frames count as zero, so a
  part that plays briefly is not the lead) is the loudest, or within ``FG_MARGIN_DB`` of it;
- a distractor's ``masked`` classes get mask 0 while it sounds, unless another stem makes that
  class present (then the label is sure).

Three kinds of clip: excerpts of rendered songs (parts in sync: rhythm and harmony agree),
random combinations of stems of different classes (any source, so real recordings meet
SoundFont parts), and negatives (distractors or noise: nothing of ours).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from tagger.taxonomy import CLASSES
from tagger.train.data.audio import ACTIVE_THRESHOLD, ENV_RATE
from tagger.train.data.augment import AugmentConfig, Augmenter
from tagger.train.data.stems import Stem, StemBank, envelope_frames
from tagger.train.example import Example

MIN_ACTIVE_S = 0.1
AUDIBLE_DB = 30.0
FG_MARGIN_DB = 1.5


@dataclass
class Placed:
    """A stem placed in a clip: stem sample ``start`` plays at clip sample 0 (negative: the stem
    enters later), scaled by ``gain``, played at ``rate`` (1.06 = a semitone up and faster)."""

    stem: Stem
    start: int
    gain: float = 1.0
    rate: float = 1.0

    def frames(self, n: int) -> np.ndarray:
        """The stem's envelope over the clip window (zeros outside the stem)."""
        f0, f1 = envelope_frames(self.start, int(np.ceil(n * self.rate)), self.stem.sample_rate)
        out = np.zeros(max(0, f1 - f0), dtype=np.float32)
        a, b = max(f0, 0), min(f1, len(self.stem.env))
        if b > a:
            out[a - f0 : b - f0] = self.stem.env[a:b]
        return out

    def render(self, n: int) -> np.ndarray:
        """Float samples for the clip, at unit level times ``gain``."""
        if abs(self.rate - 1.0) < 1e-6:
            x = self.stem.segment(self.start, n)
        else:
            m = int(np.ceil(n * self.rate)) + 2
            seg = self.stem.segment(self.start, m)
            x = np.interp(np.arange(n) * self.rate, np.arange(m), seg).astype(np.float32)
        return x * np.float32(self.gain)


def active_seconds(p: Placed, n: int) -> float:
    """How long (clip seconds) the placed stem sounds inside the window."""
    return float(np.count_nonzero(p.frames(n) > ACTIVE_THRESHOLD)) / ENV_RATE / p.rate


def label_mix(placed: Sequence[Placed], n: int, classes: Sequence[str] = CLASSES
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(presence, foreground, mask) for ``placed`` stems in an ``n``-sample window."""
    index = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    presence, fg, mask = np.zeros(k, np.float32), np.zeros(k, np.float32), np.ones(k, np.float32)
    stats = []
    for p in placed:
        env = p.frames(n)
        on = env > ACTIVE_THRESHOLD
        secs = float(np.count_nonzero(on)) / ENV_RATE / p.rate
        level = p.gain * float(np.sqrt(np.mean(env[on] ** 2))) if on.any() else 0.0
        energy = p.gain**2 * float(np.mean(env**2)) if env.size else 0.0
        stats.append((p.stem, secs, level, energy))
    loudest = max((s[2] for s in stats), default=0.0)
    sounding = [s for s in stats if s[1] >= MIN_ACTIVE_S and s[2] > 0
                and s[2] >= loudest * 10 ** (-AUDIBLE_DB / 20)]
    energy_by: dict[str, float] = {}
    top = 0.0
    for stem, _, _, energy in sounding:
        for c in stem.classes:
            if c in index:
                presence[index[c]] = 1.0
                energy_by[c] = energy_by.get(c, 0.0) + energy
        top = max(top, energy)
    top = max([top, *energy_by.values()])
    for c, e in energy_by.items():
        if e >= top * 10 ** (-FG_MARGIN_DB / 10):
            fg[index[c]] = 1.0
    for stem, *_ in sounding:
        unknown = classes if "*" in stem.masked else stem.masked
        for c in unknown:
            if c in index and presence[index[c]] == 0:
                mask[index[c]] = 0.0
    return presence, fg, mask


def mix_stems(placed: Sequence[Placed], n: int, classes: Sequence[str] = CLASSES,
              augmenter: Augmenter | None = None, rng: np.random.Generator | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sum the placed stems (per-stem tone changes if an augmenter is given) and label them."""
    audio = np.zeros(n, dtype=np.float32)
    for p in placed:
        x = p.render(n)
        if augmenter is not None and rng is not None:
            x = augmenter.stem(x, rng)
        audio += x
    return (audio, *label_mix(placed, n, classes))


@dataclass
class MixConfig:
    """What kinds of clips to draw and how loud things are (dB relative to unit level)."""

    p_song: float = 0.45
    p_random: float = 0.43
    p_negative: float = 0.12
    n_stems: tuple[float, ...] = (0.3, 0.3, 0.25, 0.15)  # P(1..4 stems) in random mixes
    max_song_stems: int = 5
    p_real: float = 0.5  # prefer a real recording for a class when one exists
    p_real_over_song: float = 0.3  # add a real phrase (often as lead) over a song excerpt
    p_distractor: float = 0.2  # add a distractor to a positive mix
    p_lead: float = 0.7  # make one part clearly louder
    bg_db: tuple[float, float] = (-12.0, 0.0)
    lead_db: tuple[float, float] = (2.0, 8.0)
    p_rate: float = 0.4
    max_semitones: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)


class MixtureSource:
    """An :class:`~tagger.train.example.ExampleSource` of mixes drawn from a stem bank."""

    def __init__(self, bank: StemBank, *, sample_rate: int, clip_seconds: float = 3.0,
                 classes: Sequence[str] = CLASSES, config: MixConfig | None = None):
        if len(bank) == 0:
            raise ValueError("the stem bank is empty: build the cache first "
                             "(python -m tagger.train.data.build)")
        self.bank = bank.at_rate(sample_rate)
        self.sample_rate, self.n = sample_rate, int(round(clip_seconds * sample_rate))
        self.classes = tuple(classes)
        self.cfg = config or MixConfig()
        self.aug = Augmenter(sample_rate, self.n, self.cfg.augment)
        self._pools = self._make_pools()
        if not any(c in self._pools for c in self.classes):
            raise ValueError("the stem bank has no stem of any class the model knows "
                             f"({', '.join(self.classes)})")
        self._groups = [g for g, idx in self.bank.groups.items() if len(idx) >= 1]
        self._real_extra = [c for c in self.classes if self._pools.get(c, {}).get("real")]

    def _make_pools(self) -> dict[str, dict[str, dict[str, list[int]]]]:
        """class -> real|synth -> family -> stem indices (drawn family first: no big source
        drowns the small ones)."""
        pools: dict[str, dict[str, dict[str, list[int]]]] = {}
        for i, s in enumerate(self.bank.stems):
            kind = "synth" if s.family.startswith("sf-") else "real"
            for c in s.classes or ("",):
                pools.setdefault(c, {}).setdefault(kind, {}).setdefault(s.family, []).append(i)
        return pools

    def _stem_of(self, cls: str, rng: np.random.Generator, *, real: bool | None = None
                 ) -> Stem | None:
        kinds = self._pools.get(cls, {})
        if not kinds:
            return None
        if real is None:
            real = "real" in kinds and ("synth" not in kinds or rng.random() < self.cfg.p_real)
        fams = kinds.get("real" if real else "synth") or next(iter(kinds.values()))
        fam = list(fams)[int(rng.integers(len(fams)))]
        return self.bank.stems[fams[fam][int(rng.integers(len(fams[fam])))]]

    def _place(self, stem: Stem, rng: np.random.Generator, rate: float) -> Placed:
        """Put ``stem`` in the window where it sounds (a few tries), or anywhere."""
        span = int(self.n * rate)
        p = Placed(stem, 0, 1.0, rate)
        for _ in range(4):
            lo, hi = -span // 3, max(-span // 3 + 1, len(stem.audio) - 2 * span // 3)
            p = Placed(stem, int(rng.integers(lo, hi)), 1.0, rate)
            if active_seconds(p, self.n) >= min(1.0, 0.3 * self.n / self.sample_rate):
                break
        return p

    def _rate(self, rng: np.random.Generator) -> float:
        if rng.random() >= self.cfg.p_rate:
            return 1.0
        return float(2 ** (rng.uniform(-self.cfg.max_semitones, self.cfg.max_semitones) / 12))

    def _levels(self, placed: list[Placed], lead: int | None, rng: np.random.Generator) -> None:
        for p in placed:
            p.gain = float(10 ** (rng.uniform(*self.cfg.bg_db) / 20))
        if lead is not None and len(placed) > 1:
            top = max(p.gain for i, p in enumerate(placed) if i != lead)
            placed[lead].gain = top * float(10 ** (rng.uniform(*self.cfg.lead_db) / 20))

    def draw_random(self, rng: np.random.Generator) -> list[Placed]:
        """1-4 stems of different classes from independent sources."""
        usable = [c for c in self.classes if c in self._pools]
        k = min(len(usable), 1 + int(rng.choice(len(self.cfg.n_stems), p=self.cfg.n_stems)))
        chosen = rng.choice(usable, size=k, replace=False)
        placed = [self._place(s, rng, self._rate(rng)) for c in chosen
                  if (s := self._stem_of(str(c), rng)) is not None]
        lead = int(rng.integers(len(placed))) if placed and rng.random() < self.cfg.p_lead else None
        self._levels(placed, lead, rng)
        return placed

    def draw_song(self, rng: np.random.Generator) -> list[Placed]:
        """Several parts of one rendered song, in sync, plus sometimes a real phrase on top."""
        if not self._groups:
            return self.draw_random(rng)
        members = [self.bank.stems[i] for i in self.bank.groups[
            self._groups[int(rng.integers(len(self._groups)))]]]
        length = max(len(s.audio) for s in members)
        rate = self._rate(rng)
        start = int(rng.integers(0, max(1, length - int(self.n * rate))))
        active = [Placed(s, start, 1.0, rate) for s in members]
        active = [p for p in active if active_seconds(p, self.n) >= 0.5]
        if not active:
            return []
        k = int(rng.integers(1, min(len(active), self.cfg.max_song_stems) + 1))
        order = sorted(rng.permutation(len(active))[:k])
        placed = [active[i] for i in order]
        leads = [i for i, p in enumerate(placed) if p.stem.role == "lead"]
        lead = leads[0] if leads and rng.random() < self.cfg.p_lead else None
        if self._real_extra and rng.random() < self.cfg.p_real_over_song:
            have = {c for p in placed for c in p.stem.classes}
            options = [c for c in self._real_extra if c not in have]
            if options:
                s = self._stem_of(str(rng.choice(options)), rng, real=True)
                if s is not None:
                    placed.append(self._place(s, rng, 1.0))
                    lead = len(placed) - 1 if rng.random() < 0.6 else lead
        self._levels(placed, lead, rng)
        return placed

    def draw_negative(self, rng: np.random.Generator) -> list[Placed]:
        """One or two distractors (none of our classes); empty = a noise-only clip."""
        if "" not in self._pools or rng.random() < 0.35:
            return []
        placed = [self._place(s, rng, self._rate(rng)) for _ in range(1 + int(rng.random() < 0.4))
                  if (s := self._stem_of("", rng)) is not None]
        self._levels(placed, None, rng)
        return placed

    def example(self, rng: np.random.Generator) -> Example:
        """One augmented, labelled clip."""
        placed: list[Placed] = []
        while not placed:
            kind = int(rng.choice(3, p=[self.cfg.p_song, self.cfg.p_random, self.cfg.p_negative]))
            placed = [self.draw_song, self.draw_random, self.draw_negative][kind](rng)
            if kind == 2 and not placed:
                audio = self.aug.level(self.aug.noise(rng).copy(), rng, (-70.0, -20.0))
                k = len(self.classes)
                return Example(audio, np.zeros(k, np.float32), np.zeros(k, np.float32),
                               np.ones(k, np.float32), source="noise")
        if kind != 2 and rng.random() < self.cfg.p_distractor:
            extra = self.draw_negative(rng)[:1]
            for p in extra:
                p.gain = min(q.gain for q in placed)
            placed += extra
        audio, presence, fg, mask = mix_stems(placed, self.n, self.classes, self.aug, rng)
        audio = self.aug.mix(audio, rng)
        source = "+".join(sorted({p.stem.source for p in placed}))
        return Example(audio, presence, fg, mask, source=source)

    def examples(self, rng: np.random.Generator) -> Iterator[Example]:
        while True:
            yield self.example(rng)
