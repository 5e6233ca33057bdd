"""Helpers for the tag tests (no tests here): real files in every format, dressed with the
tags and cover art a real library has, and independent ways to look at them afterwards.

Every check here goes through mutagen or ffmpeg directly, not through ``tagger.tags``, so the
tests do not trust the code they test.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import mutagen
from audiofiles import tone, write_audio
from mutagen.asf import ASFByteArrayAttribute
from mutagen.flac import Picture
from mutagen.id3 import APIC, COMM, ID3, TALB, TPE1, TXXX
from mutagen.mp4 import MP4Cover, MP4FreeForm

from tagger.store.db import InstrumentSummary, Store, TrackResult

COVER = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # stands in for a 2 KiB image
# Format name -> (extension, how to make it from the ffmpeg output).
VARIANTS = ("mp3v24", "mp3v23", "wav", "aiff", "flac", "ogg", "opus", "m4a", "wma")
EXT = {"mp3v24": ".mp3", "mp3v23": ".mp3", "wav": ".wav", "aiff": ".aiff", "flac": ".flac",
       "ogg": ".ogg", "opus": ".opus", "m4a": ".m4a", "wma": ".wma"}
# Where beets and Picard look for a custom field NAME, per variant.
KEY = {"mp3v24": "TXXX:{}", "mp3v23": "TXXX:{}", "wav": "TXXX:{}", "aiff": "TXXX:{}",
       "flac": "{}", "ogg": "{}", "opus": "{}", "m4a": "----:com.apple.iTunes:{}", "wma": "{}"}
UNKNOWN_FRAME = b"XTST" + (5).to_bytes(4, "big") + b"\x00\x00" + b"hello"
MODEL = "tagger-as-0.1"
INSTRUMENTS = [
    InstrumentSummary("bass", 0.91, 0.60, "foreground"),
    InstrumentSummary("drums", 0.88, 0.75, "background"),
    InstrumentSummary("voice", 0.70, 0.30, "foreground"),
    InstrumentSummary("flute", 0.20, 0.0, None),  # scored, not present
]


def make_library(folder: Path) -> dict[str, Path]:
    """One decorated file per variant in ``folder``: title/artist, album, comment, cover art,
    a MusicBrainz id, and a user value already in INSTRUMENTS ("Piano") that tagging replaces.
    """
    folder.mkdir(parents=True, exist_ok=True)
    samples = tone(1.5, 44100, channels=2)
    out = {}
    for variant in VARIANTS:
        path = folder / f"track_{variant}{EXT[variant]}"
        write_audio(path, samples, 44100, title="Blue in Green", artist="Bill Evans")
        decorate(path, variant)
        out[variant] = path
    return out


def decorate(path: Path, variant: str) -> None:
    if variant.startswith("mp3") or variant in ("wav", "aiff"):
        f = mutagen.File(path)
        if f.tags is None:
            f.add_tags()
        t = f.tags
        t.add(TALB(encoding=3, text=["Kind of Blue"]))
        t.add(TPE1(encoding=3, text=["Bill Evans", "Miles Davis"]))
        t.add(COMM(encoding=3, lang="eng", desc="", text=["a comment"]))
        t.add(APIC(encoding=3, mime="image/png", type=3, desc="front", data=COVER))
        t.add(TXXX(encoding=3, desc="MusicBrainz Album Id", text=["abc-123"]))
        t.add(TXXX(encoding=3, desc="INSTRUMENTS", text=["Piano"]))
        if variant == "mp3v23":
            t.update_to_v23()
            t.save(path, v2_version=3, v23_sep=None, v1=2)  # with an ID3v1 tag at the end
            t = ID3(path, translate=False)
        else:
            f.save() if variant != "mp3v24" else t.save(path, v1=2)
            t = ID3(path, translate=False) if variant == "mp3v24" else mutagen.File(path).tags
        if variant.startswith("mp3"):
            t.unknown_frames.append(UNKNOWN_FRAME)
            t.save(path, v2_version=3 if variant == "mp3v23" else 4, v23_sep=None, v1=1)
    elif variant in ("flac", "ogg", "opus"):
        f = mutagen.File(path)
        f.tags["ALBUM"] = "Kind of Blue"
        f.tags["ARTIST"] = ["Bill Evans", "Miles Davis"]
        f.tags["MUSICBRAINZ_ALBUMID"] = "abc-123"
        f.tags["INSTRUMENTS"] = "Piano"
        pic = Picture()
        pic.type, pic.mime, pic.desc, pic.data = 3, "image/png", "front", COVER
        if variant == "flac":
            f.add_picture(pic)
        else:
            f.tags["METADATA_BLOCK_PICTURE"] = base64.b64encode(pic.write()).decode("ascii")
        f.save()
    elif variant == "m4a":
        f = mutagen.File(path)
        f.tags["\xa9alb"] = ["Kind of Blue"]
        f.tags["covr"] = [MP4Cover(COVER, imageformat=MP4Cover.FORMAT_PNG)]
        f.tags["----:com.apple.iTunes:MusicBrainz Album Id"] = [MP4FreeForm(b"abc-123")]
        f.tags["----:com.apple.iTunes:INSTRUMENTS"] = [MP4FreeForm(b"Piano")]
        f.save()
    elif variant == "wma":
        f = mutagen.File(path)
        f.tags["WM/AlbumTitle"] = ["Kind of Blue"]
        f.tags["WM/Picture"] = [ASFByteArrayAttribute(COVER)]
        f.tags["MusicBrainz/Album Id"] = ["abc-123"]
        f.tags["INSTRUMENTS"] = ["Piano"]
        f.save()


def joined(values: list[str]) -> list[str]:
    """What a multi-value field holds by default: one value, the items joined by "; "."""
    return ["; ".join(values)] if values else []


def raw_values(path: Path, variant: str, name: str) -> list[str]:
    """A custom field's values read the way beets/Picard read them (plain mutagen)."""
    key = KEY[variant].format(name)
    f = mutagen.File(path)
    if variant.startswith("mp3") or variant in ("wav", "aiff"):
        frame = f.tags.get(key)
        return [] if frame is None else list(frame.text)
    if variant == "m4a":
        return [bytes(v).decode("utf-8") for v in f.tags.get(key, [])]
    if variant == "wma":
        return [str(v) for v in f.tags.get(key, [])] if key in f.tags else []
    return f.tags.get(key, [])


def other_tags(path: Path, variant: str) -> dict[str, Any]:
    """Every tag entry except our fields, plus cover art and unknown frames, comparably."""
    f = mutagen.File(path) if not variant.startswith("mp3") else None
    if variant.startswith("mp3"):
        t = ID3(path, translate=False, load_v1=False)
        out = {k: repr(v) for k, v in t.items() if not k.upper().startswith("TXXX:INSTRUMENTS")}
        out["unknown"] = repr(t.unknown_frames)
        out["version"] = t.version
        return out
    if variant in ("wav", "aiff"):
        return {k: repr(v) for k, v in f.tags.items() if not k.startswith("TXXX:INSTRUMENTS")}
    if variant == "m4a":
        return {k: repr(v) for k, v in f.tags.items() if ":INSTRUMENTS" not in k}
    if variant == "wma":
        return {k: repr(f.tags[k]) for k in set(f.tags.keys()) if not k.startswith("INSTRUMENTS")}
    out: dict[str, Any] = {}
    for k, v in f.tags:
        if not k.upper().startswith("INSTRUMENTS"):
            out.setdefault(k.lower(), []).append(v)
    if variant == "flac":
        out["pictures"] = [p.write() for p in f.pictures]
    return out


_FFMPEG_OUT: dict[tuple[str, ...], bytes] = {}  # by arguments, file suffix and file content


def ffmpeg_bytes(path: Path, *args: str) -> bytes:
    """What ffmpeg writes for the audio of ``path``; run once per file content (the tests
    compare many files against the same untouched copies)."""
    key = (*args, path.suffix, hashlib.sha256(path.read_bytes()).hexdigest())
    if key not in _FFMPEG_OUT:
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a",
               *args, "-"]
        _FFMPEG_OUT[key] = subprocess.run(cmd, check=True, capture_output=True).stdout
    return _FFMPEG_OUT[key]


def decoded(path: Path) -> bytes:
    """The decoded samples, as 32-bit floats."""
    return ffmpeg_bytes(path, "-c:a", "pcm_f32le", "-f", "f32le")


def packets(path: Path) -> bytes:
    """The coded audio packets exactly as the container holds them (no decoding)."""
    return ffmpeg_bytes(path, "-c", "copy", "-f", "data")


def store_for(db: Path, files: list[Path], *, status: str = "ok") -> Store:
    """A real store holding ``files`` as scanned (their current size and mtime)."""
    store = Store(db)
    results = []
    for path in files:
        real = os.path.realpath(path)
        st = os.stat(real)
        results.append(TrackResult(path=real, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                   model=MODEL, status=status, duration=1.5,
                                   format=Path(real).suffix.lstrip("."),
                                   error=None if status == "ok" else "decode failed",
                                   instruments=list(INSTRUMENTS) if status == "ok" else []))
    store.write_results(results)
    return store


def track_ids(store: Store) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT id FROM tracks ORDER BY path")]


def copy_library(src: dict[str, Path], dst: Path) -> dict[str, Path]:
    dst.mkdir(parents=True, exist_ok=True)
    return {v: Path(shutil.copy2(p, dst / p.name)) for v, p in src.items()}
