"""Reused shared-memory buffers for the workers' bundles (issue 14): a buffer is refilled only
after the scan process let it go, and a scan that keeps windows queued across many bundles
scores what a scan without workers scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audiofiles import tone, write_audio

from tagger import ScanOptions, scan
from tagger.pipeline.bundle_buffers import BundleBuffers
from tagger.store import Store


def test_a_buffer_is_reused_only_after_release() -> None:
    buffers = BundleBuffers(workers=2, per_worker=2, capacity=4, window=10)
    slot_a, a = buffers.take(1, 3)
    slot_b, b = buffers.take(1, 4)
    assert (slot_a, slot_b) == (2, 3) and a.shape == (3, 10) and a.is_shared()
    slot_c, c = buffers.take(1, 2)  # both of worker 1's buffers are held: a fresh tensor
    assert slot_c is None and c.shape == (2, 10) and c.is_shared()
    assert buffers.take(0, 5)[0] is None  # more windows than a buffer holds
    buffers.release(slot_a)
    slot_d, d = buffers.take(1, 1)
    assert slot_d == slot_a and d.data_ptr() == a.data_ptr()  # the same memory again
    assert buffers.take(0, 4)[0] == 0  # worker 0's own buffers are untouched


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("buffers")
    rng = np.random.default_rng(5)
    for i in range(30):
        seconds = 1.0 + (i * 0.7) % 3
        signal = tone(seconds, 16000, freq=110 * (1 + i % 7))
        signal += rng.normal(0, 0.05 * (i % 4), signal.shape).astype(np.float32)
        write_audio(folder / f"t{i:02d}.wav", signal, 16000)
    return folder


def scores(db: Path, folder: Path) -> dict[str, list]:
    with Store(db) as store:
        return {p.name: store.chunk_scores(store.find_track(str(p))["id"])["presence"].tolist()
                for p in sorted(folder.iterdir())}


def test_windows_queued_across_many_bundles_are_not_overwritten(
        library: Path, tmp_path: Path) -> None:
    """Batches of 64 windows from bundles of one: the scorer still holds the first bundles when
    the workers have sent thirty, so a buffer let go too early would be refilled under it and
    change the scores (the shipped model: the random test model scores everything 0.5)."""
    common = dict(batch_size=64, chunks_per_piece=1, head_start=False)
    with Store(tmp_path / "workers.db") as store:
        scan([str(library)], store=store, options=ScanOptions(workers=2, **common))
    with Store(tmp_path / "inline.db") as store:
        scan([str(library)], store=store, options=ScanOptions(workers=0, **common))
    found = scores(tmp_path / "workers.db", library)
    assert found == scores(tmp_path / "inline.db", library)
    assert len({str(s) for s in found.values()}) > 20  # the scores tell the tracks apart


def test_a_batch_of_windows_back_to_back_in_one_buffer_is_a_view_of_it() -> None:
    import torch

    from tagger.pipeline.inference import joined

    bundle = torch.arange(60.0).reshape(6, 10)
    batch = joined([bundle[0:2], bundle[2:3], bundle[3:6]])
    assert batch.data_ptr() == bundle.data_ptr() and torch.equal(batch, bundle)
    for parts in ([bundle[0:2], bundle[3:4]], [bundle[0:2], torch.ones(2, 10)],
                  [bundle[4:6], bundle[0:2]]):  # a gap, another tensor, out of order: copies
        assert torch.equal(joined(parts), torch.cat(parts))
