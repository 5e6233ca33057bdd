"""Checks on the committed example library (examples/library), the README's first demo.

These read the committed files only (no fluidsynth needed), so a regenerated or hand-edited
library that drifts from its ANSWERS.json, grows past 10 MB, or loses a format fails here
rather than in front of a new user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mutagen
import pytest

from tagger.taxonomy import CLASSES

LIB = Path(__file__).resolve().parents[1] / "examples" / "library"
ANSWERS: dict[str, Any] = json.loads((LIB / "ANSWERS.json").read_text(encoding="utf-8"))
TRACKS: dict[str, dict[str, Any]] = ANSWERS["tracks"]
REQUIRED_FORMATS = {"mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff"}

# Native tag keys per container family: (title, artist, album).
TAG_KEYS = {
    "ID3": ("TIT2", "TPE1", "TALB"),
    "MP4": ("\xa9nam", "\xa9ART", "\xa9alb"),
    "VORBIS": ("title", "artist", "album"),
    "ASF": ("Title", "Author", "WM/AlbumTitle"),
}
FAMILY = {"mp3": "ID3", "wav": "ID3", "aiff": "ID3", "m4a": "MP4", "flac": "VORBIS",
          "ogg": "VORBIS", "opus": "VORBIS", "wma": "ASF"}


def _text(value: Any) -> str:
    """First string of a mutagen tag value, whatever the container's value type."""
    if hasattr(value, "text"):
        value = value.text
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(getattr(value, "value", value))


def test_library_has_every_format_and_enough_tracks() -> None:
    formats = [t["format"] for t in TRACKS.values()]
    assert len(TRACKS) >= 8
    assert REQUIRED_FORMATS <= set(formats)
    assert all(Path(name).suffix == "." + t["format"] for name, t in TRACKS.items())


def test_files_on_disk_match_answers() -> None:
    on_disk = {p.name for p in LIB.iterdir() if p.is_file()} - {"ANSWERS.json"}
    assert on_disk == set(TRACKS) | set(ANSWERS["bad_files"])


def test_library_is_small() -> None:
    total = sum(p.stat().st_size for p in LIB.iterdir() if p.is_file())
    assert total < 10 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(TRACKS))
def test_track_duration_format_and_tags(name: str) -> None:
    truth = TRACKS[name]
    audio = mutagen.File(LIB / name)
    assert audio is not None, f"mutagen cannot read {name}"
    assert 20.0 <= audio.info.length <= 90.0
    assert audio.info.length == pytest.approx(truth["duration_s"], abs=0.05)
    assert audio.info.channels == truth["channels"]
    rate = getattr(audio.info, "sample_rate", 48000)  # Ogg Opus always decodes at 48 kHz
    assert rate == truth["sample_rate"]
    keys = TAG_KEYS[FAMILY[truth["format"]]]
    tags = audio.tags
    assert tags is not None, f"{name} has no tags"
    values = [_text(tags[k]) if k in tags else "" for k in keys]
    assert values == [truth["title"], truth["artist"], truth["album"]]


@pytest.mark.parametrize("name", sorted(TRACKS))
def test_answers_are_consistent(name: str) -> None:
    truth = TRACKS[name]
    assert truth["instruments"] == sorted(truth["timeline"])
    assert set(truth["instruments"]) <= set(CLASSES)
    assert {p["instrument"] for p in truth["parts"]} == set(truth["instruments"])
    for cls, spans in truth["timeline"].items():
        assert spans, cls
        for start, end in spans:
            assert 0.0 <= start < end <= truth["duration_s"], (cls, start, end)
    for lead in truth["lead"]:
        cls, start, end = lead["instrument"], lead["start"], lead["end"]
        assert cls in truth["instruments"]
        assert any(s <= start and end <= e for s, e in truth["timeline"][cls]), lead


def test_library_covers_all_classes_and_changes_over_time() -> None:
    seen = {cls for t in TRACKS.values() for cls in t["instruments"]}
    assert seen == set(CLASSES)
    # Segments are only interesting if instruments enter or leave mid-track.
    changing = [name for name, t in TRACKS.items()
                if any(spans[0][0] > 3.0 or len(spans) > 1 for spans in t["timeline"].values())]
    assert len(changing) >= 5
    leads = [name for name, t in TRACKS.items() if len({x["instrument"] for x in t["lead"]}) > 1]
    assert len(leads) >= 5


def test_bad_files_are_bad() -> None:
    bad = ANSWERS["bad_files"]
    assert {v["kind"] for v in bad.values()} == {"corrupt", "not_audio"}
    for name, info in bad.items():
        data = (LIB / name).read_bytes()
        if info["kind"] == "not_audio":
            assert Path(name).suffix in {".flac", ".mp3", ".ogg", ".wav", ".m4a"}
            data.decode("utf-8")  # plain text
            with pytest.raises(mutagen.MutagenError):
                mutagen.File(LIB / name)
        else:
            assert data[:3] == b"ID3", "the corrupt file starts as a real mp3"
            assert len(data) < 64_000
