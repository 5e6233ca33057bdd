"""The PyTorch YAMNet against the TFLite interpreter, on real audio from ../shared.

Why two references: ``ai_edge_litert``'s Interpreter runs the file's int8 ("hybrid") ops through
its XNNPACK delegate by default, which rounds activations differently from TFLite's builtin
kernels (they disagree with each other by up to ~0.5 in a score). Each emulation mode is checked
against the interpreter it mimics, and the float port is measured against the default one.
Skips (with the reason) when ../shared or ai-edge-litert is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tagger.model.registry import ModelNotFoundError
from tagger.model.yamnet import PATCH_SAMPLES, SAMPLE_RATE, load_yamnet

SHARED = Path(__file__).resolve().parents[2] / "shared"
TFLITE = SHARED / "pretrained" / "yamnet.tflite"
REAL = SHARED / "data" / "real"
CLIPS = [
    "mirdata-fixtures/phenicx_anechoic/oboe1.flac",
    "mirdata-fixtures/tinysol/Fl-ord-C4-mf-N-T14d.flac",
    "mirdata-fixtures/tonas/01-D_AMairena.flac",
    "more/organ-burea-church/Posaune16/037-Cs.ogg",
    "more/basic-pitch/vocadito_14.flac",
    "more/spleeter/audio_example.mp3",
]

needs_tflite = pytest.mark.skipif(not TFLITE.is_file(), reason=f"no {TFLITE}")


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    """[N, 15600] float32: the first 15600 samples of each clip, decoded at 16 kHz mono."""
    librosa = pytest.importorskip("librosa")
    missing = [c for c in CLIPS if not (REAL / c).is_file()]
    if missing:
        pytest.skip(f"real clips missing under {REAL}: {missing}")
    out = []
    for name in CLIPS:
        x, _ = librosa.load(REAL / name, sr=SAMPLE_RATE, mono=True, duration=1.2)
        out.append(np.pad(x, (0, max(0, PATCH_SAMPLES - len(x))))[:PATCH_SAMPLES])
    return np.stack(out).astype(np.float32)


def _interpret(clips: np.ndarray, *, delegate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores [N, 521] and log-mel [N, 96, 64] from the interpreter, one clip per call."""
    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="ai-edge-litert (test extra) not installed")
    kind = {} if delegate else {
        "experimental_op_resolver_type": litert.OpResolverType.BUILTIN_REF}
    it = litert.Interpreter(model_path=str(TFLITE), num_threads=1, **kind)
    it.allocate_tensors()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    scores, mels = [], []
    for x in clips:
        it.set_tensor(it.get_input_details()[0]["index"], x[None])
        it.invoke()
        scores.append(it.get_tensor(outs["Identity"])[0].copy())
        mels.append(it.get_tensor(outs["Identity_1"]).copy())
    return np.stack(scores), np.stack(mels)


@pytest.fixture(scope="module")
def default_ref(clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _interpret(clips, delegate=True)


def _ours(clips: np.ndarray, emulate: bool | str) -> tuple[np.ndarray, np.ndarray]:
    net = load_yamnet(TFLITE, emulate_hybrid=emulate)
    with torch.no_grad():
        wave = torch.from_numpy(clips)
        return net.scores(wave)[:, 0].numpy(), net.log_mel(wave).numpy()


def _compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, list[int]]:
    """Max abs difference of the scores and, per clip, how many of the top 5 agree."""
    top = [len(set(np.argsort(-a)[:5]) & set(np.argsort(-b)[:5])) for a, b in zip(ours, ref)]
    return float(np.abs(ours - ref).max()), top


@pytest.mark.slow
@needs_tflite
@pytest.mark.parametrize("mode, delegate, bound", [
    ("xnnpack", True, 0.01),     # measured 4.5e-3 on these clips
    ("reference", False, 0.05),  # measured 1.9e-2 (1e-6 on some clips, rounding flips on others)
])
def test_hybrid_emulation_matches_its_interpreter(clips, mode, delegate, bound) -> None:
    ref_scores, ref_mel = _interpret(clips, delegate=delegate)
    scores, mel = _ours(clips, mode)
    diff, top = _compare(scores, ref_scores)
    mel_diff = float(np.abs(mel - ref_mel).max())
    print(f"\n{mode} emulation vs interpreter (delegate={delegate}): max|d score| {diff:.2e}, "
          f"top-5 {top}, max|d log-mel| {mel_diff:.2e}")
    assert mel_diff < 1e-5  # the frontend, its int8 rounding included, matches to float rounding
    assert diff < bound and min(top) >= 4, (diff, top)


@pytest.mark.slow  # shares the interpreter fixtures, minutes of setup, with the test above
@needs_tflite
def test_float_port_against_default_interpreter(clips, default_ref) -> None:
    """No activation rounding: close in ranking, not in value (the interpreter quantizes)."""
    scores, _ = _ours(clips, False)
    diff, top = _compare(scores, default_ref[0])
    print(f"\nfloat port vs default interpreter: max|d score| {diff:.2e}, top-5 {top}")
    assert diff < 0.6 and np.mean(top) >= 2.5, (diff, top)


@pytest.mark.slow
@needs_tflite
def test_patches_logits_embeddings_and_batching() -> None:
    net = load_yamnet(TFLITE)
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(3, 5 * SAMPLE_RATE)
    with torch.no_grad():
        logits, emb = net(wave), net.embed(wave)
        one = net(wave[1:2])
        short = net(wave[:, :PATCH_SAMPLES])
        scores = net.scores(wave)
    assert logits.shape == (3, 9, 521) and emb.shape == (3, 9, 1024)  # 498 frames -> 9 patches
    assert short.shape == (3, 1, 521)
    # 1e-4: a batch of another size runs other kernels (float sums in another order)
    torch.testing.assert_close(one[0], logits[1], atol=1e-4, rtol=0)
    torch.testing.assert_close(scores, torch.sigmoid(logits))
    torch.testing.assert_close(short[:, 0], logits[:, 0], atol=1e-4, rtol=0)  # patch 0 = 1st 0.975 s


@needs_tflite
def test_frontend_constants_are_yamnets() -> None:
    """The file's window, DFT and mel matrix are the documented ones, up to int8 rounding."""
    net = load_yamnet(TFLITE)
    n = np.arange(400)
    np.testing.assert_allclose(net.window.numpy(), 0.5 - 0.5 * np.cos(2 * np.pi * n / 400),
                               atol=1e-6)
    k = np.arange(257)[:, None]
    angle = 2 * np.pi * k * (n[None, :] + 56) / 512  # the frame sits at offset 56 of 512
    exact = np.concatenate([np.cos(angle), -np.sin(angle)])
    assert np.abs(np.abs(net.dft.numpy()) - np.abs(exact)).max() <= 0.5 / 127 + 1e-6

    def htk(f: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log1p(f / 700.0)
    edges = np.linspace(htk(125.0), htk(7500.0), 66)
    mel_bins = htk(np.linspace(0, 8000, 257))[1:, None]
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    tri = np.maximum(0, np.minimum((mel_bins - lo) / (mid - lo), (hi - mel_bins) / (hi - mid)))
    expected = np.concatenate([np.zeros((1, 64)), tri]).T
    assert np.abs(net.mel.numpy() - expected).max() <= 0.01
    np.testing.assert_allclose(net.mel_bias.numpy(), 0.001)


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.tflite"
    with pytest.raises(ModelNotFoundError) as err:
        load_yamnet(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_not_a_tflite_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "fake.tflite"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError) as err:
        load_yamnet(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
