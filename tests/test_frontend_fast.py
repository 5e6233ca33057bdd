"""The scan's log-mel path (inference on CPU, zero padding left untransformed) gives exactly the
numbers of the plain frontend on real audio: short clips padded to the window, clips that end
in a window, full windows, and batches mixing them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tagger.pipeline.chunking import frame
from tagger.audio.decode import decode
from tagger.model.card import FrontendConfig, ModelCard
from tagger.model.frontend import LogMel
from tagger.model.registry import find_card

LIBRARY = Path(__file__).resolve().parent.parent / "examples" / "library"
SONGS = ("03-night-study-piano.flac", "09-chapel-organ-choir.wav", "01-blue-room-sax-quartet.mp3")
LENGTHS_S = (0.5, 1.3, 2.9, 4.99, 5.0, 5.01, 7.4, 10.3)


def clip_windows(card: ModelCard) -> list[torch.Tensor]:
    """Per clip, its windows as the scan cuts them (zero-padded at the end)."""
    sr, window, hop = card.sample_rate, round(card.window_s * card.sample_rate), round(
        card.hop_s * card.sample_rate)
    out = []
    for i, seconds in enumerate(LENGTHS_S):
        audio = decode(LIBRARY / SONGS[i % len(SONGS)], sample_rate=sr)
        start = int((3.0 + 1.7 * i) * sr)
        clip = audio[start : start + int(seconds * sr)]
        out.append(torch.from_numpy(frame(clip, window=window, hop=hop)))
    return out


@pytest.mark.parametrize("model", ["tagger-fast", "tagger-as"])
def test_scan_frontend_equals_plain_frontend_on_real_clips(model: str) -> None:
    card = ModelCard.load(find_card(model))
    fe = LogMel(card.frontend, card.sample_rate)
    windows = clip_windows(card)
    padded = [w for w in windows if (w[-1] == 0).any()]
    assert len(padded) >= 5  # most clips end in zero padding
    mixed = torch.cat(windows)
    batches = [mixed[i : i + 8] for i in range(0, len(mixed), 8)] + windows
    with torch.inference_mode():
        for batch in batches:
            assert torch.equal(fe(batch), fe.plain(batch))
        silence = torch.zeros(2, mixed.shape[1])
        assert torch.equal(fe(silence), fe.plain(silence))
    spec = fe(mixed[:3].clone().requires_grad_(True))  # training: the plain path, with grad
    assert spec.requires_grad
    assert torch.equal(spec.detach(), fe.plain(mixed[:3]).detach())


def test_scan_frontend_equals_plain_on_odd_lengths_and_sizes() -> None:
    """Lengths just above the FFT size, silence that starts close to the end (its reflection
    is not silent), a row that is all zeros, and a small FFT."""
    gen = torch.Generator().manual_seed(3)
    for config, sr in ((FrontendConfig(), 32000),
                       (FrontendConfig(n_mels=32, n_fft=256, win_length=200, hop_length=80), 8000),
                       # An odd FFT size: the centred STFT gives one frame fewer than even sizes.
                       (FrontendConfig(n_mels=32, n_fft=255, win_length=200, hop_length=80), 8000)):
        fe = LogMel(config, sr)
        for length in (fe.n_fft + 1, fe.n_fft + 300, 16000, 32001):
            wave = torch.randn(5, length, generator=gen) * 0.1
            wave[1, length // 3 :] = 0
            wave[2, length - fe.n_fft // 2 :] = 0  # inside the last frame's reflection
            wave[3] = 0
            wave[4, -1] = 0  # one trailing zero
            with torch.inference_mode():
                assert torch.equal(fe(wave), fe.plain(wave)), (config, length)
