"""One colour per instrument class, shared by the terminal timeline and the ``--plot`` PNG.

A qualitative palette (hues chosen apart, not taken from a colormap), mid-light so every colour
reads on white paper and on a dark terminal alike: the smallest CIELAB distance between two
classes is ~28 (organ/clarinet), and no colour is within ~40 of white or of a dark background.
Colours follow :data:`tagger.taxonomy.CLASSES`, so an instrument keeps its colour everywhere.
"""

from __future__ import annotations

__all__ = ["PALETTE", "instrument_colour"]

PALETTE: dict[str, str] = {
    "voice": "#d62728",            # red
    "piano": "#1f5fbf",            # blue
    "organ": "#8c564b",            # brown
    "acoustic_guitar": "#a8a800",  # olive yellow
    "electric_guitar": "#ff7f0e",  # orange
    "bass": "#7b3fbf",             # violet
    "drums": "#2ca02c",            # green
    "violin": "#f06ac8",           # pink
    "cello": "#17becf",            # cyan
    "trumpet": "#e8b000",          # gold
    "saxophone": "#00695c",        # dark teal
    "clarinet": "#7a7a7a",         # grey
    "flute": "#86b6ff",            # light blue
    "synth": "#b0005a",            # crimson
}
_SPARE = tuple(PALETTE.values())


def instrument_colour(name: str) -> str:
    """The class's colour as ``#rrggbb``; a name outside the taxonomy (an older model's class)
    still gets a stable one from the same palette."""
    return PALETTE.get(name) or _SPARE[sum(map(ord, name)) % len(_SPARE)]
