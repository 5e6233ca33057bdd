"""load_clip on real files: a clip is the same slice of the whole decode, read by seeking."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from audiofiles import FORMATS, write_audio
from tagger.audio import DecodeError, load_clip
from tagger.audio.clip import _seeked
from tagger.audio.decode import decode

RATE = 44100
# Where a backend seeks to the exact sample; the others are streamed from the start.
SEEKS = {".wav", ".flac", ".aiff", ".mp3", ".ogg", ".opus", ".m4a"}


def partials(seconds: float, rate: int = RATE) -> np.ndarray:
    """Stereo, not periodic: inharmonic partials under slow, different swells per channel, so a
    clip matches its own place in the track only, and a one-sample shift shows. Tonal, because
    AAC's noise substitution draws fresh noise after a seek."""
    t = np.arange(int(seconds * rate)) / rate
    left = sum(0.12 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * t / p)) / 2
               for f, p in ((233.0, 3.1), (587.3, 4.7), (1319.0, 2.3)))
    right = 0.2 * np.sin(2 * np.pi * 371.0 * t) * (1 + np.cos(2 * np.pi * t / 5.3)) / 2
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    audio = partials(12.0)
    return {ext: write_audio(folder / f"t{ext}", audio, RATE) for ext in FORMATS}


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("rate", [RATE, 32000])
def test_a_clip_is_the_same_slice_of_the_whole_decode(tracks: dict[str, Path], ext: str,
                                                      rate: int) -> None:
    path = tracks[ext]
    full = decode(path, sample_rate=rate)
    for start_s, duration_s in ((5.3, 2.0), (0.0, 1.0), (0.1, 0.5), (11.0, 3.0), (7.77, None)):
        clip = load_clip(path, sample_rate=rate, start_s=start_s, duration_s=duration_s)
        first = round(start_s * rate)
        want = full[first:] if duration_s is None else full[first:first + round(duration_s * rate)]
        where = f"{ext} at {rate} Hz, {start_s} s + {duration_s}"
        assert clip.dtype == np.float32 and clip.ndim == 1, where
        assert len(clip) == len(want), where  # shorter at the end, like the track
        np.testing.assert_allclose(clip, want, atol=1e-4, err_msg=where)


@pytest.mark.parametrize("ext", FORMATS)
def test_the_formats_that_seek_exactly_do_not_decode_from_the_start(tracks: dict[str, Path],
                                                                    ext: str) -> None:
    """wma (millisecond timestamps) is streamed; mp3 seeks with its Xing header (lame's)."""
    seeked = _seeked(tracks[ext], 32000, 6 * 32000, 32000)
    assert (seeked is not None) == (ext in SEEKS)


def test_an_mp3_without_a_length_header_is_streamed_and_still_exact(tmp_path: Path) -> None:
    """Without a Xing/Info header libsndfile guesses the length (and stops or fails there) and
    FFmpeg seeks to an estimate and skips no encoder delay: the clip is cut from the stream."""
    src = write_audio(tmp_path / "src.wav", partials(12.0), RATE)
    path = tmp_path / "vbr.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(src), "-c:a", "libmp3lame",
                    "-q:a", "5", "-write_xing", "0", str(path)], check=True)
    assert _seeked(path, 32000, 5 * 32000, 64000) is None
    clip = load_clip(path, sample_rate=32000, start_s=5.0, duration_s=2.0)
    np.testing.assert_allclose(clip, decode(path, sample_rate=32000)[5 * 32000:7 * 32000],
                               atol=1e-4)


@pytest.mark.parametrize("ext", [".wav", ".ogg", ".m4a", ".mp3", ".wma"])
def test_a_start_past_the_end_is_one_line_error(tracks: dict[str, Path], ext: str) -> None:
    for start_s in (12.5, 600.0):
        with pytest.raises(DecodeError) as caught:
            load_clip(tracks[ext], sample_rate=32000, start_s=start_s, duration_s=1.0)
        assert caught.value.kind == "past_end"
        assert str(caught.value) == f"the track ends before {start_s:.1f} s"


def test_bad_files_give_the_decoders_one_line_errors(tmp_path: Path,
                                                     tracks: dict[str, Path]) -> None:
    junk = tmp_path / "notes.mp3"
    junk.write_text("not a song, a shopping list\n" * 500)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(tracks[".flac"].read_bytes()[: tracks[".flac"].stat().st_size // 2])
    cases = {tmp_path / "gone.wav": "not_found", junk: "not_audio", cut: "corrupt"}
    for path, kind in cases.items():
        with pytest.raises(DecodeError) as caught:
            load_clip(path, sample_rate=32000, start_s=9.0, duration_s=2.0)
        message = str(caught.value)
        assert caught.value.kind == kind and "\n" not in message and len(message) < 120, message
    # Before the cut, the clip is all there and right (its end is not reached).
    head = load_clip(cut, sample_rate=32000, start_s=1.0, duration_s=1.0)
    np.testing.assert_allclose(head, decode(tracks[".flac"], sample_rate=32000)[32000:64000],
                               atol=1e-4)


def test_bad_arguments(tracks: dict[str, Path]) -> None:
    for kwargs in ({"start_s": -1.0}, {"duration_s": 0.0}, {"start_s": float("nan")}):
        with pytest.raises(ValueError):
            load_clip(tracks[".wav"], sample_rate=32000, **kwargs)
    with pytest.raises(ValueError):
        load_clip(tracks[".wav"], sample_rate=0)
