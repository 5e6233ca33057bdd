"""Short files (issue 14): the batched pipeline gives the answers the unbatched one gave, and
commands that need no model start without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiofiles import tone, write_audio
from short_clips import GOLDEN, make_clips, scan_answers


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("short") / "clips"
    make_clips(folder)
    return folder


def assert_same_answers(found: dict, golden: dict) -> None:
    assert sorted(found) == sorted(golden)
    for name, want in golden.items():
        got = found[name]
        assert got["status"] == want["status"] == "ok", name
        assert got["duration"] == want["duration"], name
        # Same windows, same padding: the stored float16 scores agree to their precision.
        np.testing.assert_allclose(got["presence"], want["presence"], atol=2e-3, err_msg=name)
        np.testing.assert_allclose(got["foreground"], want["foreground"], atol=2e-3, err_msg=name)
        assert [s[0::4] for s in got["segments"]] == [s[0::4] for s in want["segments"]], name
        for g, w in zip(got["segments"], want["segments"]):
            assert g[1:4] == pytest.approx(w[1:4], abs=2e-3), name
        assert [i[0::3] for i in got["instruments"]] == [i[0::3] for i in want["instruments"]], name
        for g, w in zip(got["instruments"], want["instruments"]):
            assert g[1:3] == pytest.approx(w[1:3], abs=2e-3), name


@pytest.mark.slow  # 20 files cut by ffmpeg, scanned with the shipped model: 5-10 s a run
@pytest.mark.parametrize("workers", [0, 2])
def test_short_clips_get_the_answers_the_unbatched_scanner_gave(clips: Path, tmp_path: Path,
                                                                 workers: int) -> None:
    """20 real clips of 0.5-10.3 s in five formats, scanned with the shipped model, against what
    main's scanner (one item per piece, one write per track) stored for them."""
    golden = json.loads(GOLDEN.read_text())
    assert_same_answers(scan_answers(clips, tmp_path / "s.db", workers=workers), golden)


def _imported_by(args: list[str], cwd: Path) -> set[str]:
    """The top-level packages a ``tagger`` command imported (run in a fresh interpreter, as
    ``python -m tagger``; listed by an atexit handler, which the console script's exit runs)."""
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print(' '.join(sorted({m.split('.')[0] for m in"
            " sys.modules})), file=sys.stderr))\n"
            f"sys.argv = ['tagger', *{args!r}]\n"
            "runpy.run_module('tagger', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    return set(proc.stderr.strip().splitlines()[-1].split())


def test_help_does_not_import_torch(tmp_path: Path) -> None:
    loaded = _imported_by(["--help"], tmp_path)
    assert "tagger" in loaded
    assert not loaded & {"torch", "ray", "pandas", "sqlite_utils", "numpy", "mutagen"}


@pytest.mark.slow  # two fresh interpreters, the first importing torch and scanning: 3-6 s
def test_unchanged_rescan_does_not_import_torch(tmp_path: Path, tiny_model: Path) -> None:
    for i in range(3):
        write_audio(tmp_path / f"t{i}.wav", tone(1.0, 8000, freq=220.0 * (i + 1)), 8000)
    args = ["scan", str(tmp_path), "--db", str(tmp_path / "s.db"), "--model", str(tiny_model), "-q"]
    assert "torch" in _imported_by(args, tmp_path)  # the first scan runs the model
    assert not _imported_by(args, tmp_path) & {"torch", "ray", "pandas", "soxr", "av"}


def test_bundles_carry_the_same_windows_and_outcomes_as_single_items(tmp_path: Path) -> None:
    """Bundled hand-off = the unbundled stream regrouped: same windows per track, in order,
    each outcome after its track's last window; a failed track's windows are dropped."""
    import torch

    from tagger.pipeline.decode_stage import (BundledTracks, ChunkSpec, Done, Failed, Piece,
                                              TrackDataset)

    paths = []
    for i, seconds in enumerate((0.4, 2.5, 7.0, 0.9, 30.0, 1.2)):
        paths.append(str(write_audio(tmp_path / f"t{i}.flac",
                                     tone(seconds, 8000, freq=110.0 * (i + 1)), 8000)))
    # Cut after 40 of its 60 s: decoding yields the first 30-s block, then fails.
    cut = write_audio(tmp_path / "cut.flac", tone(60.0, 8000, freq=330.0), 8000)
    os.truncate(cut, cut.stat().st_size * 2 // 3)
    paths.insert(3, str(cut))
    spec = ChunkSpec.from_seconds(8000, 2.0, 1.0)
    windows: dict[int, list[torch.Tensor]] = {}
    outcomes = {}
    for item in TrackDataset(paths, spec, chunks_per_piece=4):
        if isinstance(item, Piece):
            windows.setdefault(item.track, []).append(item.windows)
        else:
            outcomes[item.track] = item
    assert 3 in windows and isinstance(outcomes[3], Failed)  # it sent windows, then failed
    bundles = list(BundledTracks(paths, spec, chunks_per_piece=4, bundle_windows=64))
    assert len(bundles) < len(paths)  # short tracks share hand-offs
    got: dict[int, list[torch.Tensor]] = {}
    ended = {}
    for bundle in bundles:
        start = 0
        for track, count in bundle.pieces:
            assert track not in ended
            got.setdefault(track, []).append(bundle.windows[start : start + count])
            start += count
        assert start == len(bundle.windows)
        ended.update((end.track, end) for end in bundle.ends)
    assert ended == outcomes
    assert isinstance(ended[3], Failed) and 3 not in got
    assert all(isinstance(ended[t], Done) for t in got)
    assert sorted(got) == sorted(t for t in windows if t != 3)
    for track in got:
        assert torch.equal(torch.cat(got[track]), torch.cat(windows[track]))
