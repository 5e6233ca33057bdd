"""The head start (issue 14): a process that decodes the first tracks while the scan process
imports torch gives the windows the DataLoader workers would, takes each track once, fails
the track it was on when it dies, and changes no scan answer."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from audiofiles import tone, write_audio

from tagger import ScanOptions, scan
from tagger.engines.local import LocalEngine
from tagger.model.errors import ModelNotFoundError
from tagger.pipeline.head_start import HeadPiece, HeadStart
from tagger.pipeline.track_decode import ChunkSpec, Done, Failed, decode_track
from tagger.pipeline.workers import TrackClaims
from tagger.store import Store

SPEC = ChunkSpec.from_seconds(8000, 2.0, 1.0)  # the tiny test model's windows


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Twelve tracks of 0.4-7 s in five formats, and a file that is not audio."""
    folder = tmp_path_factory.mktemp("head") / "lib"
    folder.mkdir()
    paths = []
    for i, seconds in enumerate((0.4, 1.5, 2.0, 2.5, 3.0, 7.0, 1.0, 4.2, 0.9, 6.1, 2.2, 5.0)):
        ext = (".wav", ".flac", ".mp3", ".ogg", ".m4a")[i % 5]
        paths.append(str(write_audio(folder / f"t{i:02d}{ext}", tone(seconds, 16000,
                                                                   freq=200 + 40 * i), 16000)))
    broken = folder / "t99.mp3"
    broken.write_bytes(b"ID3" + os.urandom(3000))
    return [*paths, str(broken)]


def by_track(items: list) -> tuple[dict[int, np.ndarray], dict[int, Done | Failed]]:
    windows: dict[int, list[np.ndarray]] = {}
    ends: dict[int, Done | Failed] = {}
    for item in items:
        if isinstance(item, HeadPiece):
            assert item.track not in ends, "a piece after its track's end"
            windows.setdefault(item.track, []).append(np.array(item.windows))
        else:
            assert item.track not in ends, "two ends for one track"
            ends[item.track] = item
    return {t: np.concatenate(w) for t, w in windows.items()}, ends


def expected(paths: list[str], index: int) -> tuple[np.ndarray | None, Done | Failed]:
    items = list(decode_track(index, paths[index], SPEC, chunks_per_piece=3))
    pieces = [i for i in items if isinstance(i, np.ndarray)]
    return (np.concatenate(pieces) if pieces else None), items[-1]


@pytest.mark.parametrize("arena_windows", [400, 7])  # 7: the arena fills, the rest is copied
def test_head_start_gives_each_track_the_windows_decoding_gives(
        library: list[str], arena_windows: int) -> None:
    claims = TrackClaims(len(library))
    with HeadStart(library, SPEC, claims, chunks_per_piece=3,
                   arena_bytes=arena_windows * SPEC.window * 4) as head:
        windows, ends = by_track(list(head.results()))  # never stopped: it takes what it can
    assert sorted(ends) == list(range(len(ends)))  # taken in order, each ended once
    if arena_windows == 400:
        assert len(ends) == len(library)
    else:  # stops taking tracks once the arena is full
        assert len(ends) < len(library) and claims.claimed() == len(ends)
    for index, end in ends.items():
        want_windows, want_end = expected(library, index)
        assert end == want_end, library[index]
        if isinstance(end, Done):
            np.testing.assert_array_equal(windows[index], want_windows)
    if len(ends) == len(library):
        assert isinstance(ends[len(library) - 1], Failed)  # the file that is not audio


def test_stopped_head_start_leaves_the_other_tracks_to_the_claims(library: list[str]) -> None:
    claims = TrackClaims(len(library))
    with HeadStart(library, SPEC, claims, chunks_per_piece=3) as head:
        head.stop()
        _, ends = by_track(list(head.results()))
        rest = []
        while (index := claims.next()) is not None:  # what a DataLoader worker would take
            rest.append(index)
    assert len(ends) < len(library)
    assert sorted([*ends, *rest]) == list(range(len(library)))


def test_a_head_start_that_dies_fails_the_track_it_was_on(tmp_path: Path) -> None:
    long = str(write_audio(tmp_path / "long.wav", tone(30.0, 8000), 8000))
    paths = [long] * 40
    claims = TrackClaims(len(paths))
    with HeadStart(paths, SPEC, claims, chunks_per_piece=1) as head:
        items = []
        for item in head.results():
            items.append(item)
            if len(items) == 1:
                os.kill(head._process.pid, signal.SIGKILL)
    _, ends = by_track(items)
    last = max(ends)
    assert all(isinstance(ends[i], Done) for i in range(last))
    assert isinstance(ends[last], Failed) and "decoder process died" in ends[last].message
    assert claims.claimed() == last + 1 < len(paths)  # the rest are left for the workers


class SlowStart(LocalEngine):
    """The local engine with a model that takes 1.5 s to load, as torch's import does in a
    fresh process: the head start decodes meanwhile (in pytest torch is already loaded)."""

    claimed_at_load = 0

    @contextmanager
    def session(self, options: ScanOptions) -> Iterator:
        with super().session(options) as device:
            time.sleep(1.5)
            self.claimed_at_load = self._head.claims.claimed() if self._head else 0
            yield device


def stored(db: Path, paths: list[str]) -> dict[str, tuple]:
    """Each track's row status and error, duration, window scores and segments."""
    out = {}
    with Store(db) as store:
        for path in paths:
            row = store.find_track(path)
            scores = store.chunk_scores(row["id"]) if row["status"] == "ok" else None
            out[path] = (row["status"], row["error"], row["duration"],
                         None if scores is None else scores["presence"].tolist(),
                         store.segments(row["id"]))
    return out


def test_scan_with_a_head_start_stores_what_a_scan_without_one_stores(
        library: list[str], tmp_path: Path) -> None:
    """With the shipped model (the random test model scores everything 0.5)."""
    folder = str(Path(library[0]).parent)
    with Store(tmp_path / "without.db") as store:
        scan([folder], store=store, options=ScanOptions(workers=2, head_start=False,
                                                        chunks_per_piece=3))
    engine = SlowStart()
    before = _children(os.getpid())
    with Store(tmp_path / "with.db") as store:
        report = scan([folder], store=store, engine=engine,
                      options=ScanOptions(workers=2, chunks_per_piece=3))
    assert engine.claimed_at_load >= 6, "the head start decoded nothing while the model loaded"
    assert report.scanned == len(library) - 1 and report.failed == 1
    found = stored(tmp_path / "with.db", library)
    assert found == stored(tmp_path / "without.db", library)
    assert len({str(f[3]) for f in found.values()}) == len(library)  # scores tell tracks apart
    assert _children(os.getpid()) == before  # the head start and the workers are gone


def test_a_model_that_fails_to_load_ends_the_head_start(
        library: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad", "version": "0", "classes": ["voice"], "sample_rate": 8000,'
                   ' "window_s": 2.0, "hop_s": 1.0, "thresholds": {"voice": 0.5},'
                   ' "architecture": {"type": "mobilenet_v3_audio"}}')
    before = _children(os.getpid())
    with Store(tmp_path / "s.db") as store, pytest.raises(ModelNotFoundError, match="weights"):
        scan([str(Path(library[0]).parent)], store=store, options=ScanOptions(model=str(bad)))
    assert _children(os.getpid()) == before


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid``."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.add(int(entry))
    return kids
