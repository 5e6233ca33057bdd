"""Real recordings installed from Debian: Hydrogen drum kits and KLettres speech.

Why these: drums in SoundFonts are two sample sets; Hydrogen's 14 kits are many more real
(and a few electronic) kits, each its own source, played by the same groove generator. Voice is
the class with the least real audio; KLettres' letters and syllables, spoken by native speakers
of 20+ languages, add real human voices (speech, not singing: a stand-in for the vocal timbre,
kept at a modest share by the mixer).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from tagger.train.data.audio import CACHE_SR, load_many, trim_silence
from tagger.train.data.sampler import drum_phrase, kit_role
from tagger.train.data.stems import Stem, make_stem

HYDROGEN_ROOT = Path("/usr/share/hydrogen/data/drumkits")
KLETTRES_ROOT = Path("/usr/share/klettres")
DEBIAN_VERSION = 1
# Kits that are hand percussion, not a drum kit: distractors with "drums" masked.
PERCUSSION_KITS = ("gimme a hand", "circafrique")


def hydrogen_kits(root: Path = HYDROGEN_ROOT) -> list[Path]:
    """Folders of installed Hydrogen kits (empty when ``hydrogen-drumkits`` is missing)."""
    return sorted(p.parent for p in root.glob("*/drumkit.xml")) if root.is_dir() else []


def _kit_pieces(folder: Path) -> tuple[str, str, dict[str, list[Path]]]:
    """(kit name, licence, role -> sample files soft to hard) from a kit's drumkit.xml."""
    root = ET.parse(folder / "drumkit.xml").getroot()
    for el in root.iter():  # newer kits put everything in an XML namespace; drop it
        el.tag = el.tag.rsplit("}", 1)[-1]
    name = (root.findtext("name") or folder.name).strip()
    licence = (root.findtext("license") or "").strip() or "GPL-2+ (Debian hydrogen-drumkits)"
    roles: dict[str, list[Path]] = {}
    for inst in root.iter("instrument"):
        role = kit_role(inst.findtext("name") or "")
        if role is None:
            continue
        files = [folder / (f.text or "").strip() for f in inst.iter("filename")]
        files = [f for f in files if f.is_file()]
        if files and role not in roles:
            # hydrogen lists velocity layers hard to soft; the sampler wants soft first
            roles[role] = list(reversed(files))
    return name, licence, roles


def kit_recipe(folder: Path) -> dict:
    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
    return {"kind": "hydrogen", "v": DEBIAN_VERSION, "kit": folder.name, "files": files}


def kit_stems(folder: Path, rng: np.random.Generator, *, n: int = 3) -> list[Stem]:
    """``n`` grooves (about 20 s each) played on one Hydrogen kit."""
    name, licence, roles = _kit_pieces(folder)
    kit: dict[str, list[np.ndarray]] = {}
    for role, files in roles.items():
        hits = [x[: CACHE_SR * 3] for _, x in load_many([str(f) for f in files[:6]], CACHE_SR,
                                                         what=f"samples of kit {name}")]
        if hits:
            kit[role] = hits
    percussion = any(k in folder.name.lower() for k in PERCUSSION_KITS)
    if not percussion and not ({"kick", "snare"} <= set(kit)):
        return []  # not enough of a kit to play a groove
    if percussion:  # hand percussion: play whatever pieces it has as a groove
        files = [str(f) for f in sorted(folder.glob("*.wav"))[:12]]
        hits = [x[: CACHE_SR * 2] for _, x in load_many(files, CACHE_SR, what=f"kit {name}")]
        if not hits:
            return []
        kit = {"kick": hits[:4], "snare": hits[4:8] or hits[:1], "hat": hits[8:] or hits[-1:]}
    classes, masked = ((), ("drums",)) if percussion else (("drums",), ())
    return [make_stem(drum_phrase(kit, rng), classes=classes, masked=masked,
                      source=f"hydrogen:{folder.name}", family=f"hydrogen:{folder.name}",
                      role="drums", licence=f"{licence} (Hydrogen kit {name})",
                      origin=f"grooves on Hydrogen kit {name}") for _ in range(n)]


def klettres_languages(root: Path = KLETTRES_ROOT) -> list[Path]:
    """Language folders with recorded letters/syllables (empty when klettres-data is missing)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*/*.ogg")))


def klettres_recipe(folder: Path) -> dict:
    files = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.glob("*/*.ogg"))
    return {"kind": "klettres", "v": DEBIAN_VERSION, "lang": folder.name, "files": files}


def klettres_stems(folder: Path, rng: np.random.Generator, *, seconds: float = 16.0
                   ) -> list[Stem]:
    """One stem of spoken letters and syllables in a language, like someone reading aloud."""
    files = [str(f) for f in sorted(folder.glob("*/*.ogg"))]
    clips = []
    for _, x in load_many(files, CACHE_SR, what=f"KLettres {folder.name} sounds"):
        x = trim_silence(x, CACHE_SR, db=-45)
        if len(x) > CACHE_SR // 20:
            clips.append(x)
    if not clips:
        return []
    parts, n = [], 0
    for i in rng.permutation(len(clips)):
        gap = np.zeros(int(rng.uniform(0.05, 0.5) * CACHE_SR), np.float32)
        parts += [clips[i], gap]
        n += len(clips[i]) + len(gap)
        if n > seconds * CACHE_SR:
            break
    return [make_stem(np.concatenate(parts), classes=("voice",), source=f"klettres:{folder.name}",
                      family="klettres", role="solo",
                      licence="GPL-2+ (KDE KLettres sounds, Debian klettres-data)",
                      origin=f"KLettres spoken letters/syllables ({folder.name})")]
