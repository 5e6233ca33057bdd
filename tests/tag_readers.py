"""What other programs show of our fields: mutagen, beets' mediafile, ffprobe, exiftool.

Each reader returns the text values it shows for one field, as the program itself reports
them (no splitting on our side). Used by tests/test_tag_readers.py, and run as a script it
prints the README's reader x format table for the current layout options::

    python tests/tag_readers.py            # default: joined
    python tests/tag_readers.py list
    python tests/tag_readers.py list 2.3  # ID3 formats: files without a tag, tagged as v2.3
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mutagen

FORMATS = (".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav", ".aiff", ".wma")
ID3_EXTS = (".mp3", ".wav", ".aiff")
VORBIS_EXTS = (".flac", ".ogg", ".opus")


def read_mutagen(path: Path, name: str) -> list[str]:
    """Plain mutagen, the library under beets and Picard."""
    f = mutagen.File(path)
    ext = path.suffix.lower()
    if ext in ID3_EXTS:
        frame = f.tags.get(f"TXXX:{name}") if f.tags is not None else None
        return [] if frame is None else [str(t) for t in frame.text]
    if ext == ".m4a":
        return [bytes(v).decode("utf-8") for v in f.tags.get(f"----:com.apple.iTunes:{name}", [])]
    if ext == ".wma":
        return [str(v) for v in f.tags.get(name, [])] if name in f.tags else []
    return list(f.tags.get(name, []))


def read_mediafile(path: Path, name: str) -> list[str]:
    """beets' mediafile with the fields our beets plugin declares (what `beet import` reads)."""
    from mediafile import MediaFile

    from beetsplug.instruments import BEETS_FIELDS, media_field

    attr = name.lower()
    if attr not in MediaFile.__dict__:
        MediaFile.add_field(attr, media_field(BEETS_FIELDS[attr]))
    value = getattr(MediaFile(str(path)), attr)
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


_SHOWN: dict[tuple[str, ...], str] = {}  # program output by command, file and its content
EXIFTOOL = ["exiftool", "-a", "-S"]


def _key(program: list[str], path: Path) -> tuple[str, ...]:
    return (*program, str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def shown_by(program: list[str], path: Path) -> str:
    """What ``program PATH`` prints; run once per command and file content (the readers are
    asked for several fields of the same tagged files)."""
    key = _key(program, path)
    if key not in _SHOWN:
        _SHOWN[key] = subprocess.run([*program, str(path)], capture_output=True, text=True,
                                     errors="replace", check=True).stdout
    return _SHOWN[key]


def exiftool_reads(paths: list[Path]) -> None:
    """Run exiftool once for all ``paths`` (it starts Perl, ~0.2 s, for each run) and keep
    what it printed for each file, as ``shown_by`` would have run it file by file."""
    out = subprocess.run([*EXIFTOOL, *map(str, paths)], capture_output=True, text=True,
                         errors="replace", check=True).stdout
    sections: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in out.splitlines(keepends=True):
        if line.startswith("======== "):  # the header of each file's part
            lines = sections.setdefault(line[len("======== "):].rstrip("\n"), [])
        elif not re.fullmatch(r" +\d+ image files read\n", line):  # the count at the end
            lines.append(line)
    for path in paths:
        _SHOWN[_key(EXIFTOOL, path)] = "".join(sections[str(path)])


def read_ffprobe(path: Path, name: str) -> list[str]:
    """ffprobe's container and stream tags under the field's name (any case)."""
    out = shown_by(["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of",
                    "json"], path)
    data = json.loads(out)
    tag_sets = [data.get("format", {}).get("tags", {})]
    tag_sets += [s.get("tags", {}) for s in data.get("streams", [])]
    return [v for tags in tag_sets for k, v in tags.items() if k.lower() == name.lower()]


def read_exiftool(path: Path, name: str) -> list[str]:
    """``exiftool -a FILE`` as a person reads it (``-S``: tag names, one per line).

    ``-a`` is needed: without it exiftool prints only one of several ID3 ``TXXX`` frames and
    the last of repeated Vorbis keys (its JSON output ``-j`` does so even with ``-a``).
    """
    out = shown_by(EXIFTOOL, path)
    values: list[str] = []
    for line in out.splitlines():
        key, _sep, text = line.partition(": ")
        if key == "UserDefinedText" and text.startswith(f"({name}) "):
            values.append(text[len(name) + 3:])  # ID3 TXXX: "(DESC) value"
        elif key.replace("_", "").lower() == name.replace("_", "").lower():
            values.append(text)
    return values


READERS: dict[str, tuple[Callable[[Path, str], list[str]], str | None]] = {
    # reader: (function, what must be installed, None for a Python module checked on use)
    "mutagen": (read_mutagen, None),
    "mediafile": (read_mediafile, None),
    "ffprobe": (read_ffprobe, "ffprobe"),
    "exiftool": (read_exiftool, "exiftool"),
}


def missing_reader(reader: str) -> str | None:
    """Why ``reader`` cannot run here (a skip reason), or None."""
    program = READERS[reader][1]
    if program is not None and shutil.which(program) is None:
        return f"{program} is not installed (see scripts/system-packages.txt)"
    if reader == "mediafile":
        try:
            import beets  # noqa: F401
            import mediafile  # noqa: F401
        except ImportError:
            return "beets/mediafile not installed (pip install -e '.[test]')"
    return None


def sees(values: list[str], shown: list[str]) -> str:
    """One table cell: ``all`` (every value, as one text or a list), ``first``/``last``, ``-``."""
    if not shown:
        return "-"
    text = " ".join(shown)
    if all(v in text for v in values):
        return "all (list)" if len(shown) == len(values) > 1 else "all"
    if values and values[0] in text:
        return "first"
    return "last" if values and values[-1] in text else "?"


def _table(multi_value: str, id3_version: str = "2.4") -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tempfile

    from audiofiles import tone, write_audio

    from tagger.tags import TagOptions, update_file

    values = ["bass", "piano", "saxophone"]
    from tagger.tags.options import parse_id3_version

    options = TagOptions(multi_value=multi_value,  # type: ignore[arg-type]
                         id3_version=parse_id3_version(id3_version))
    print("| reader | " + " | ".join(e[1:] for e in FORMATS) + " |")
    print("|---" * (len(FORMATS) + 1) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for ext in FORMATS:
            path = write_audio(Path(tmp) / f"t{ext}", tone(1.0), 44100)
            if ext in ID3_EXTS and options.id3_version == 3:
                mutagen.File(path).delete()  # ffmpeg's v2.4 tag would keep its version
            update_file(str(path), values={"INSTRUMENTS": values}, options=options)
            paths.append(path)
        for reader, (read, _program) in READERS.items():
            if missing_reader(reader):
                continue
            cells = [sees(values, read(p, "INSTRUMENTS")) for p in paths]
            print(f"| {reader} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    _table(*(sys.argv[1:] or ["joined"]))
