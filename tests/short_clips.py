"""Real short clips (cut from the example songs) and the answers main's scanner gave on them.

``python tests/short_clips.py --write`` scans the clips with whatever ``tagger`` the interpreter
imports and writes ``tests/data/short_clips_golden.json``; it was run with the scanner before
the short-file work of issue 14 (main at 19cf5a3), so ``test_scan_short.py`` can check that
the faster pipeline gives every clip the same segments, instruments and confidences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "short_clips_golden.json"
SOURCES = sorted((ROOT / "examples" / "library").glob("[0-9][0-9]-*.*"))
# Lossless and lossy formats a sample pack holds; ffmpeg encodes each the same on one machine.
CLIP_FORMATS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
# Lengths around the 5-s window and hop: below, at and just past one and two windows.
LENGTHS = (0.5, 0.8, 1.3, 2.0, 2.9, 3.7, 4.4, 4.99, 5.0, 5.01, 5.6, 6.5, 7.4, 8.2, 9.1, 9.99,
           10.0, 10.3, 1.1, 3.3)


def make_clips(folder: Path) -> list[Path]:
    """Cut one clip per ``LENGTHS`` entry from the example songs (stereo 44.1 kHz), cycling
    sources, start points and formats; returns the paths in a fixed order. The ffmpeg runs are
    independent, so they run side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    from audiofiles import CODECS

    commands, paths = [], []
    for i, seconds in enumerate(LENGTHS):
        source = SOURCES[i % len(SOURCES)]
        ext = CLIP_FORMATS[i % len(CLIP_FORMATS)]
        path = folder / f"clip{i:02d}-{seconds:g}s{ext}"
        commands.append(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss",
                         f"{1.5 + 0.7 * i:.2f}", "-t", f"{seconds}", "-i", str(source), "-ac", "2",
                         "-ar", "44100", *CODECS[ext], str(path)])
        paths.append(path)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda cmd: subprocess.run(cmd, check=True), commands))
    return paths


def answers(store, paths: list[Path]) -> dict[str, dict]:
    """What the store holds for each clip (by file name): duration, segments, instruments,
    and the chunk scores as stored (float16)."""
    out = {}
    for path in paths:
        row = store.find_track(str(path))
        if row is None:
            out[path.name] = {"status": "missing"}
            continue
        scores = store.chunk_scores(row["id"])
        out[path.name] = {
            "status": row["status"], "duration": row["duration"],
            "segments": [[s.instrument, s.start, s.end, s.confidence, s.role]
                         for s in store.segments(row["id"])],
            "instruments": [[i.instrument, i.score, i.coverage, i.role]
                            for i in store.instruments(row["id"])],
            "presence": None if scores is None else scores["presence"].tolist(),
            "foreground": None if scores is None or scores["foreground"] is None
            else scores["foreground"].tolist(),
        }
    return out


def scan_answers(folder: Path, db: Path, **options) -> dict[str, dict]:
    """Scan ``folder`` with the shipped default model into ``db``; the answers per clip."""
    from tagger import ScanOptions, scan
    from tagger.store import Store

    paths = sorted(p for p in folder.iterdir() if p.suffix in CLIP_FORMATS)
    with Store(db) as store:
        report = scan([str(folder)], store=store, options=ScanOptions(device="cpu", **options))
        assert report.failed == 0, report.failures
        return answers(store, paths)


def main() -> None:
    if "--write" not in sys.argv:
        raise SystemExit(__doc__)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as tmp:
        make_clips(Path(tmp) / "clips")
        found = scan_answers(Path(tmp) / "clips", Path(tmp) / "golden.db")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(found, indent=1) + "\n")
    import tagger
    print(f"wrote {GOLDEN} from {tagger.__file__}: {len(found)} clips")


if __name__ == "__main__":
    main()
