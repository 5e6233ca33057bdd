"""The streaming chunker must give exactly the windows of the whole signal, in pieces."""

import numpy as np
import pytest

from tagger.pipeline.chunking import chunk_count, frame, stream_pieces


@pytest.mark.parametrize("n_samples", [0, 1, 999, 1000, 1001, 1500, 12345])
@pytest.mark.parametrize("block", [1, 333, 5000])
def test_stream_pieces_equal_whole_signal_framing(n_samples: int, block: int) -> None:
    signal = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32)
    blocks = [signal[i : i + block] for i in range(0, n_samples, block)]
    pieces = list(stream_pieces(blocks, window=1000, hop=500, chunks_per_piece=4))
    assert all(1 <= len(p) <= 4 for p in pieces)
    assert np.array_equal(np.concatenate(pieces), frame(signal, window=1000, hop=500))


def test_chunk_count_pads_short_tracks_to_one_window() -> None:
    assert chunk_count(10, window=1000, hop=500) == 1
    assert chunk_count(1000, window=1000, hop=500) == 1
    assert chunk_count(1001, window=1000, hop=500) == 2
    windows = frame(np.ones(10, dtype=np.float32), window=1000, hop=500)
    assert windows.shape == (1, 1000) and windows[0, :10].sum() == 10 and windows[0, 10:].sum() == 0


def test_invalid_hop_is_rejected() -> None:
    with pytest.raises(ValueError):
        list(stream_pieces([np.zeros(10, np.float32)], window=100, hop=200, chunks_per_piece=2))
