#!/usr/bin/env python3
"""Regenerate the example music library in ``examples/library`` and its ANSWERS.json.

Why generate instead of shipping recordings: every note is written by this script, so the
ground truth (which instruments play, when, and which one leads) is exact, and the audio is
free to redistribute (FluidR3_GM is MIT; see examples/README.md for TimGM6mb and espeak-ng).

    python examples/make_library.py [--out examples/library] [--only "Blue Room"]

Needs the Debian packages in scripts/system-packages-examples.txt (fluidsynth,
fluid-soundfont-gm, timgm6mb-soundfont, espeak-ng, ffmpeg). Output is deterministic: fixed
seeds, bit-exact ffmpeg flags; byte-identical results need the same package versions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import mutagen

from librarygen.compose import Part, spans
from librarygen.encode import FORMATS, encode, make_broken_mp3, make_not_audio
from librarygen.render import MissingToolError, render_track, require
from librarygen.track import Track
from librarygen.tracks_acoustic import (chamber_air, chapel, duet_in_d, morning_walk,
                                        night_study, porch_song)
from librarygen.tracks_band import blue_room, brass_street, neon_lines, organ_trio, overdrive

ALBUM = "Tagger Example Library"
GAP_S = 1.5
TRACKS = (blue_room, overdrive, night_study, duet_in_d, morning_walk, brass_street, chamber_air,
          neon_lines, chapel, porch_song, organ_trio)
BROKEN = "broken.mp3"
NOT_AUDIO = "notes.flac"


def merge(intervals: list[list[float]], gap: float = GAP_S) -> list[list[float]]:
    """Union of [start, end] intervals, bridging gaps shorter than ``gap`` seconds."""
    out: list[list[float]] = []
    for s, e in sorted(intervals):
        if out and s - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [[round(s, 2), round(e, 2)] for s, e in out]


def truth(track: Track, parts: list[Part], duration: float, sr: int, channels: int
          ) -> dict[str, Any]:
    """The ANSWERS.json entry for one track, from the notes as rendered."""
    spb = track.sec_per_beat
    per_part = []
    playing: dict[str, list[list[float]]] = {}
    leading: dict[str, list[list[float]]] = {}
    for p in parts:
        roles = {role: spans(ns, spb, GAP_S) for role, ns in sorted(p.notes.items())}
        per_part.append({"name": p.name, "instrument": p.instrument,
                         "source": f"espeak-ng voice {p.voice}" if p.voice
                         else f"GM program {p.program}" + (" (drum kit)" if p.channel == 9 else ""),
                         "gain_db": p.gain_db, "spans": roles})
        for role, ivs in roles.items():
            playing.setdefault(p.instrument, []).extend(ivs)
            if role == "foreground":
                leading.setdefault(p.instrument, []).extend(ivs)
    lead = [{"instrument": cls, "start": s, "end": e}
            for cls, ivs in leading.items() for s, e in merge(ivs)]
    return {
        "title": track.title, "artist": track.artist, "album": ALBUM, "genre": track.genre,
        "format": Path(track.filename).suffix.lstrip("."), "duration_s": round(duration, 2),
        "sample_rate": sr, "channels": channels, "bpm": track.bpm, "soundfont": track.soundfont,
        "instruments": sorted(playing),
        "timeline": {cls: merge(ivs) for cls, ivs in sorted(playing.items())},
        "lead": sorted(lead, key=lambda x: (x["start"], x["instrument"])),
        "parts": per_part, "arrangement": track.notes,
    }


def build(out: Path, only: set[str] | None) -> dict[str, Any]:
    """Render, encode and tag every track; write the bad files; return the ANSWERS dict."""
    tracks = [make() for make in TRACKS]
    if only:
        tracks = [t for t in tracks if t.title in only]
    tools = {"fluidsynth", "ffmpeg"} | ({"espeak-ng"} if any(p.voice for t in tracks
                                                              for p in t.parts) else set())
    fonts = require(tools, {t.soundfont for t in tracks})
    out.mkdir(parents=True, exist_ok=True)
    answers: dict[str, Any] = {
        "about": "Ground truth for examples/library, written by examples/make_library.py from "
                 "the same notes it rendered. Times in seconds. 'timeline': when each "
                 f"instrument plays (notes closer than {GAP_S} s merged). 'lead': which "
                 "instrument is in the foreground when (none during some intros). 'parts' "
                 "gives the same per part and role.",
        "span_gap_s": GAP_S, "tracks": {}, "bad_files": {},
    }
    for n, track in enumerate(tracks, 1):
        print(f"[{n}/{len(tracks)}] {track.filename} ({track.seconds:.1f} s)", flush=True)
        audio, parts = render_track(track.parts, track.bpm, fonts[track.soundfont], track.seconds)
        tags = {"title": track.title, "artist": track.artist, "album": ALBUM,
                "genre": track.genre, "date": "2024", "track": track.filename[:2].lstrip("0"),
                "comment": "Synthesised for tagger's examples; see ANSWERS.json"}
        path = encode(out / track.filename, audio, tags)
        info = mutagen.File(path).info
        fmt = FORMATS[path.suffix.lstrip(".")]
        answers["tracks"][track.filename] = truth(track, parts, info.length, fmt.rate,
                                                  fmt.channels)
        if track.title == "Brass Street":
            with tempfile.TemporaryDirectory() as tmp:
                src = encode(Path(tmp) / "src.mp3", audio, {"title": "Broken", "album": ALBUM})
                make_broken_mp3(src, out / BROKEN, seed=7)
            answers["bad_files"][BROKEN] = {
                "kind": "corrupt", "why": "a real mp3 (ID3 tag and a few frames) followed by "
                                          "random bytes and cut off mid-frame"}
    make_not_audio(out / NOT_AUDIO)
    answers["bad_files"][NOT_AUDIO] = {"kind": "not_audio",
                                       "why": "plain UTF-8 text with a .flac name"}
    return answers


def dumps(answers: dict[str, Any]) -> str:
    """Indented JSON with each [start, end] pair on one line, so diffs and eyes can follow it."""
    text = json.dumps(answers, indent=1)
    pair = re.compile(r"\[\s*(-?[\d.]+),\s*(-?[\d.]+)\s*\]")
    return pair.sub(r"[\1, \2]", text) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exits 2 with the Debian package to install when a tool is missing."""
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=here / "library", help="output folder")
    ap.add_argument("--only", action="append", metavar="TITLE",
                    help="render only this track (repeatable); ANSWERS.json is then partial")
    args = ap.parse_args(argv)
    try:
        answers = build(args.out, set(args.only) if args.only else None)
    except MissingToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (args.out / "ANSWERS.json").write_text(dumps(answers), encoding="utf-8")
    known = set(answers["tracks"]) | set(answers["bad_files"]) | {"ANSWERS.json"}
    stale = sorted(f.name for f in args.out.iterdir() if f.name not in known)
    if stale and not args.only:
        print(f"warning: {args.out} holds files this script did not write (left alone; "
              f"tests/test_examples_library.py will flag them): {', '.join(stale)}",
              file=sys.stderr)
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    print(f"wrote {len(answers['tracks'])} tracks to {args.out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
