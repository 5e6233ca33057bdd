"""Shared setup for the labeling tests: a real store over real WAV files, and a running server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from audiofiles import tone, write_audio
from tagger.label.api import LabelApp, LabelOptions
from tagger.label.server import LabelServer, make_server
from tagger.store import InstrumentSummary, Store, TrackResult

CLASSES = ["voice", "piano", "saxophone"]
WINDOW_S, HOP_S = 2.0, 1.0
DURATION_S = 12.0  # clips 0-5, 5-10 and a 2-s tail 10-12


def presence_for(track: int, n_chunks: int, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Per-chunk probabilities: track 0 is sure, track 1 unsure in its middle, track 2 mixed."""
    p = np.zeros((n_chunks, n_classes), np.float32)
    p[:, 0] = 0.95
    if track == 1:
        p[4:8, 1] = 0.5  # clip 1 (5-10 s, chunk centres 5..9) is the most uncertain of all
    if track == 2:
        p[:, 2] = 0.3
    return p


def make_store(tmp_path: Path, n_tracks: int = 3, classes: Sequence[str] = CLASSES
               ) -> tuple[Path, list[Path]]:
    """A store with ``n_tracks`` scanned WAV tracks and their chunk scores for ``classes``."""
    db = tmp_path / "label.db"
    paths = []
    results = []
    n_chunks = int((DURATION_S - WINDOW_S) / HOP_S) + 1
    for i in range(n_tracks):
        path = write_audio(tmp_path / f"track {i}.wav", tone(DURATION_S, 16000, freq=220.0 * (i + 1)), 16000)
        paths.append(path)
        p = presence_for(i, n_chunks, len(classes))
        results.append(TrackResult(
            path=str(path.resolve()), size=path.stat().st_size, mtime_ns=path.stat().st_mtime_ns,
            model="test-1", duration=DURATION_S, format="wav", classes=list(classes),
            window_s=WINDOW_S, hop_s=HOP_S, presence=p, foreground=p * 0.5,
            instruments=[InstrumentSummary(c, float(p[:, k].max()), 0.5, None)
                         for k, c in enumerate(classes)],
        ))
    with Store(db) as store:
        store.write_results(results)
    return db, paths


@contextmanager
def running_server(db: Path, options: LabelOptions = LabelOptions()) -> Iterator[LabelServer]:
    """The real server on an ephemeral loopback port, in a thread, shut down afterwards."""
    server = make_server(LabelApp(db, options), "127.0.0.1", 0)
    # Polled every 50 ms (not 0.5 s) for the shutdown request: each test's end waits for it.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
