"""How long does ``tagger tag`` take on an already-scanned library? (A benchmark, not a test.)

Target (issue #4): 10,000 already-scanned tracks tagged in under 2 minutes on this machine.

    .venv/bin/python benchmarks/bench_tags.py [--tracks 2000] [--runs 3] [--seconds 1.5]
                                              [--dir /tmp/x] [--no-fsync] [--workers 4]

Makes one small real file per variant (mp3 ID3v2.4 and v2.3, wav, aiff, flac, ogg, opus, m4a,
wma; ffmpeg-encoded and dressed with cover art, several tags and an existing INSTRUMENTS value,
as in the tests), copies them round-robin to ``--tracks`` files, fills a real store as a scan
would, and times ``tag_tracks`` over all of them: a full write of every file (read, temporary
copy, save, verification of tags and audio bytes, fsync, rename, store update). Each run starts
from fresh copies and a fresh store, outside the timing. Prints the median rate over ``--runs``,
the projection for 10,000 tracks, and the rate of an "already tagged" pass (nothing to change:
read and compare only).

``--seconds`` makes the files longer (size grows with it: copying and comparing audio bytes is
linear in file size). ``--no-fsync`` shows what durability costs on this disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import tags_support as support  # noqa: E402
from audiofiles import tone, write_audio  # noqa: E402

from tagger.tags import tag_tracks  # noqa: E402
from tagger.tags import apply as tag_apply  # noqa: E402
from tagger.tags import atomic as tag_atomic  # noqa: E402


def make_sources(folder: Path, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    samples = tone(seconds, 44100, channels=2)
    out = []
    for variant in support.VARIANTS:
        path = folder / f"src_{variant}{support.EXT[variant]}"
        write_audio(path, samples, 44100, title="Blue in Green", artist="Bill Evans")
        support.decorate(path, variant)
        out.append(path)
    return out


def one_run(sources: list[Path], work: Path, n: int) -> tuple[float, float, int]:
    """Fresh copies + store, then time a tagging pass and an already-tagged pass."""
    if work.exists():
        shutil.rmtree(work)
    music = work / "music"
    music.mkdir(parents=True)
    files = []
    for i in range(n):
        src = sources[i % len(sources)]
        dst = music / f"{i:06d}_{src.name}"
        shutil.copyfile(src, dst)
        files.append(dst)
    store = support.store_for(work / "t.db", files)
    ids = support.track_ids(store)
    t0 = time.perf_counter()
    errors = sum(outcome.failed for outcome in tag_tracks(store, ids))
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    unchanged = sum(o.status == "unchanged" for o in tag_tracks(store, ids))
    check_s = time.perf_counter() - t0
    store.close()
    assert unchanged == n, f"second pass found {n - unchanged} files to change"
    return write_s, check_s, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.5, help="length of each file")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--no-fsync", action="store_true", help="skip fsyncs (to see their cost)")
    ap.add_argument("--workers", type=int, default=None, help="threads preparing files")
    args = ap.parse_args()
    if args.workers:
        tag_apply.WORKERS = args.workers
    if args.no_fsync:
        tag_atomic.os = _NoFsyncOs()  # type: ignore[attr-defined]
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench_tags_"))
    try:
        sources = make_sources(base / "sources", args.seconds)
        mean_size = statistics.mean(p.stat().st_size for p in sources)
        print(f"{args.tracks} tracks, {len(sources)} variants, mean file {mean_size / 1024:.0f} KiB,"
              f" {args.runs} runs, fsync {'off' if args.no_fsync else 'on'},"
              f" {tag_apply.WORKERS} workers, cpu count {os.cpu_count()}")
        runs = []
        for r in range(args.runs):
            write_s, check_s, errors = one_run(sources, base / "work", args.tracks)
            runs.append((write_s, check_s))
            print(f"  run {r + 1}: tag {args.tracks / write_s:7.1f} tracks/s ({write_s:.1f} s),"
                  f" already-tagged pass {args.tracks / check_s:7.1f} tracks/s, errors {errors}")
        runs.sort(key=lambda r: r[0])
        write_s, check_s = runs[len(runs) // 2]
        rate = args.tracks / write_s
        print(f"median: {rate:.1f} tracks/s -> 10,000 tracks in {10000 / rate:.0f} s"
              f" ({'under' if 10000 / rate < 120 else 'OVER'} the 2-minute target);"
              f" already tagged: 10,000 in {10000 * check_s / args.tracks:.0f} s")
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


class _NoFsyncOs:
    """``os`` with fsync as a no-op, for the --no-fsync comparison only."""

    def __getattr__(self, name: str):
        return getattr(os, name)

    @staticmethod
    def fsync(fd: int) -> None:
        return None


if __name__ == "__main__":
    main()
