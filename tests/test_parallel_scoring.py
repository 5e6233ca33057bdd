"""Two batches scored at once on the CPU (issue 14): the same scores, bit for bit and in the
same order, as one batch at a time; the buffers of running batches stay held; and the policy
for when a scan does it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from tagger.engines.local import scoring_threads
from tagger.model.registry import load_model_for_scanning
from tagger.pipeline.bundle_buffers import shared_empty
from tagger.pipeline.inference import BatchScorer


@pytest.fixture(scope="module")
def shipped() -> torch.nn.Module:
    """The shipped model: its scores tell windows apart (the tiny test model's are all 0.5)."""
    model, _ = load_model_for_scanning("tagger-fast", device=torch.device("cpu"))
    return model


def pieces() -> list[tuple[int, torch.Tensor]]:
    """Eleven tracks of 1-4 windows of noise and tones, in one storage as a bundle has them."""
    rng = np.random.default_rng(3)
    counts = [1, 3, 2, 4, 1, 1, 2, 3, 1, 2, 4]
    window = 5 * 32000
    t = np.arange(window) / 32000
    rows = [0.3 * np.sin(2 * np.pi * (110 + 37 * i) * t) + rng.normal(0, 0.02 * (i % 5), window)
            for i in range(sum(counts))]
    bundle = torch.from_numpy(np.stack(rows).astype(np.float32))
    out, start = [], 0
    for track, count in enumerate(counts):
        out.append((track, bundle[start : start + count]))
        start += count
    return out


def run(scorer: BatchScorer) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    results = []
    with scorer:
        for track, windows in pieces():
            results.extend(scorer.add(track, windows))
        results.extend(scorer.flush())
    return results


def test_two_batches_at_once_give_the_same_scores_in_the_same_order(shipped) -> None:
    torch.set_num_threads(1)
    one = run(BatchScorer(shipped, torch.device("cpu"), batch_size=4))
    two = run(BatchScorer(shipped, torch.device("cpu"), batch_size=4, parallel=2))
    assert [(t, len(p)) for t, p, _ in one] == [(t, len(p)) for t, p, _ in two]
    for (_, p1, f1), (_, p2, f2) in zip(one, two):
        assert np.array_equal(p1, p2) and np.array_equal(f1, f2)
    assert len({p.tobytes() for _, p, _ in one}) == len(one)  # the scores differ by track


class Gated(torch.nn.Module):
    """The shipped model, each call held until ``gate`` opens: a batch that is still running."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.gate = model, threading.Event()

    def forward(self, batch: torch.Tensor):
        self.gate.wait(timeout=60)
        return self.model(batch)


def test_running_batches_keep_their_buffer_held(shipped) -> None:
    gated = Gated(shipped)
    with BatchScorer(gated, torch.device("cpu"), batch_size=2, parallel=2) as scorer:
        bundle = torch.zeros((4, 5 * 32000))
        assert list(scorer.add(0, bundle[:2])) == []  # handed to a thread, not finished
        assert scorer.holds() == {bundle.untyped_storage().data_ptr()}
        gated.gate.set()
        done = list(scorer.flush())
    assert [(t, len(p)) for t, p, _ in done] == [(0, 2)] and scorer.holds() == set()


def test_scans_score_two_batches_at_once_only_with_one_intra_op_thread_beside_workers() -> None:
    assert scoring_threads(None, intra_op=1, workers=2) == min(2, os.cpu_count() or 1)
    assert scoring_threads(1, intra_op=1, workers=2) == 1  # --threads given: as asked
    assert scoring_threads(None, intra_op=2, workers=6) == 1
    assert scoring_threads(None, intra_op=1, workers=0) == 1


def test_a_shared_buffer_is_made_in_shared_memory_and_seen_by_a_forked_process() -> None:
    buffer = shared_empty(3, 5)
    assert buffer.shape == (3, 5) and buffer.dtype == torch.float32 and buffer.is_shared()
    buffer.zero_()
    ctx = torch.multiprocessing.get_context("fork")
    child = ctx.Process(target=buffer.fill_, args=(7.0,))
    child.start()
    child.join()
    assert child.exitcode == 0 and bool((buffer == 7.0).all())


def test_importing_the_decoders_loads_no_torch() -> None:
    code = ("import sys; from tagger.audio.decode import import_codecs;"
            " import_codecs(); print('torch' in sys.modules, 'av' in sys.modules,"
            " 'soundfile' in sys.modules, 'soxr' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "True", "True", "True"]
