"""The one definition of tagger's instrument classes, aliases and groups.

Everything else (queries, the model card check, export, tags) imports from here, so
adding a class or an alias is a one-line change.
"""

from __future__ import annotations

from collections.abc import Iterable

from tagger.errors import TaggerError

CLASSES: tuple[str, ...] = (
    "voice",
    "piano",
    "organ",
    "acoustic_guitar",
    "electric_guitar",
    "bass",
    "drums",
    "violin",
    "cello",
    "trumpet",
    "saxophone",
    "clarinet",
    "flute",
    "synth",
)

ROLES: tuple[str, ...] = ("foreground", "background")
# The words the output uses for a role ("lead" in `tagger show` and `tagger query`), and the
# usual musician's words, accepted wherever a role is asked for.
ROLE_ALIASES: dict[str, str] = {"lead": "foreground", "solo": "foreground",
                                "accompaniment": "background", "backing": "background"}


def canonical_role(word: str | None) -> str | None:
    """``"Lead"`` -> ``"foreground"``; a role name as it is; an unknown word unchanged (lower
    case), for the caller to reject."""
    if word is None:
        return None
    text = word.strip().lower()
    return ROLE_ALIASES.get(text, text)

# Single-name aliases: user word -> class name.
ALIASES: dict[str, str] = {
    "sax": "saxophone",
    "vocals": "voice",
    "vocal": "voice",
    "singing": "voice",
    "vox": "voice",
    "drum": "drums",
    "synthesizer": "synth",
    "fiddle": "violin",
}

# Groups: one user word -> several classes (a track matches the group if it has any member).
GROUPS: dict[str, tuple[str, ...]] = {
    "guitar": ("acoustic_guitar", "electric_guitar"),
    "strings": ("violin", "cello"),
    "keys": ("piano", "organ"),
}


class UnknownInstrumentError(TaggerError, ValueError):
    """Raised for a name that is neither a class, an alias nor a group."""

    def __init__(self, name: str, classes: Iterable[str] = CLASSES):
        valid = sorted(set(classes) | set(ALIASES) | set(GROUPS))
        super().__init__(f"unknown instrument {name!r}; valid names: {', '.join(valid)}")
        self.name = name


def normalize(name: str) -> str:
    """Lower-case a user word and turn spaces and dashes into underscores."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def resolve(name: str, classes: Iterable[str] = CLASSES) -> tuple[str, ...]:
    """Map a user word (class, alias or group) to the classes it stands for.

    ``classes`` are the classes the model in use knows; a name outside them is an error
    listing the valid ones, so a typo never silently matches nothing.
    """
    known = tuple(classes)
    word = normalize(name)
    if word in known:
        return (word,)
    if word in ALIASES and ALIASES[word] in known:
        return (ALIASES[word],)
    if word in GROUPS:
        members = tuple(c for c in GROUPS[word] if c in known)
        if members:
            return members
    raise UnknownInstrumentError(name, known)
