"""The decoder on real files in every format, resampled, mixed down, and broken on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from audiofiles import FORMATS, tone, write_audio

from tagger.audio.decode import BACKENDS, AudioInfo, DecodeError, decode, decode_blocks, probe
from tagger.audio.sniff import sniff

SR = 16000
ROOT = Path(__file__).resolve().parent.parent
CODEC = {
    ".wav": "pcm_s16", ".flac": "flac", ".aiff": "pcm_s16", ".mp3": "mp3", ".ogg": "vorbis",
    ".opus": "opus", ".m4a": "aac", ".wma": "wmav2",
}  # fmt: skip


def sine(seconds: float, sr: int, freq: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(round(seconds * sr))) / sr)).astype(
        np.float32
    )


def spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitudes) with a Hann window, amplitudes scaled so a sine of amplitude
    a shows a peak of ~a."""
    win = np.hanning(len(x))
    mag = np.abs(np.fft.rfft(x * win)) * 2 / win.sum()
    return np.fft.rfftfreq(len(x), 1 / sr), mag


def amplitude_at(x: np.ndarray, sr: int, freq: float) -> float:
    f, mag = spectrum(x, sr)
    near = np.abs(f - freq) <= 3
    return float(mag[near].max())


def peak_hz(x: np.ndarray, sr: int) -> float:
    f, mag = spectrum(x, sr)
    return float(f[np.argmax(mag)])


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def error_of(path: str | os.PathLike[str] | bytes, **kw: object) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(path, sample_rate=SR, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 160 and "Traceback" not in msg, msg
    return info.value


# --------------------------------------------------------------------------------------------
# Every format: length, pitch, waveform, probe


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_decodes_to_length_pitch_and_waveform(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"tone{ext}", tone(1.5, 44100, channels=2), 44100)
    y = decode(path, sample_rate=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 1.5 * SR) <= 0.03 * SR  # encoder padding/delay only (AAC: a frame)
    assert abs(peak_hz(y, SR) - 440) < 2
    ref = tone(1.5, SR)[:, 0]  # the same tone made directly at 16 kHz
    n = min(len(y), len(ref))
    mid = slice(1000, n - 1000)
    if ext in (".wav", ".flac", ".aiff"):  # lossless: the resampled samples themselves match
        assert np.abs(y[mid] - ref[mid]).max() < 2e-3
    else:  # lossy: same waveform, allowing WMA's uncompensated encoder delay (a few ms)
        best = max(np.corrcoef(np.roll(y[:n], lag)[mid], ref[mid])[0, 1] for lag in range(-80, 81))
        assert best > 0.99
    info = probe(path)
    assert isinstance(info, AudioInfo)
    assert info.sample_rate == (48000 if ext == ".opus" else 44100)
    assert info.channels == 2 and info.codec == CODEC[ext]
    assert abs(info.duration_s - 1.5) < 0.05


def test_misnamed_file_is_read_by_content(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "really.m4a", tone(1.0, 44100), 44100)
    wrong = path.rename(tmp_path / "really.mp3")
    assert sniff(str(wrong)).kind == "mp4"
    assert abs(len(decode(wrong, sample_rate=SR)) - SR) < 0.03 * SR  # + an AAC frame of padding


# --------------------------------------------------------------------------------------------
# Blocks, resampling, mixdown


@pytest.mark.parametrize("ext", [".flac", ".mp3"])
def test_blocks_equal_whole_and_a_one_shot_resample(tmp_path: Path, ext: str) -> None:
    x = sine(8.0, 44100, 440)
    path = write_audio(tmp_path / f"sine{ext}", x, 44100)
    blocks = list(decode_blocks(path, sample_rate=SR, block_s=0.77))
    size = int(round(0.77 * SR))
    assert all(len(b) == size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= size
    joined = np.concatenate(blocks)
    whole = decode(path, sample_rate=SR)
    np.testing.assert_array_equal(joined, whole)
    # Against soxr resampling the whole native-rate signal in one call: no seams at blocks.
    native, rate = sf.read(path, dtype="float32")
    reference = soxr.resample(native, rate, SR, quality="HQ")
    assert abs(len(reference) - len(joined)) <= 1
    n = min(len(reference), len(joined))
    assert np.abs(joined[:n] - reference[:n]).max() < 1e-4
    # No click: the biggest sample-to-sample step is that of the sine itself.
    assert np.abs(np.diff(joined)).max() < 1.05 * 0.5 * 2 * np.pi * 440 / SR


def test_backends_agree_on_the_same_file(tmp_path: Path) -> None:
    x = np.stack([sine(2.0, 44100, 440), sine(2.0, 44100, 660, 0.3)], axis=1)
    path = write_audio(tmp_path / "two.wav", x, 44100)
    results = [decode(path, sample_rate=SR, backend=b) for b in BACKENDS]
    for other in results[1:]:
        assert len(other) == len(results[0])
        assert np.abs(other - results[0]).max() < 1e-5


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixdown_is_the_mean_of_the_channels(tmp_path: Path, backend: str) -> None:
    left, right = sine(1.0, 44100, 500), sine(1.0, 44100, 1500)
    path = write_audio(tmp_path / "lr.wav", np.stack([left, right], axis=1), 44100)
    y = decode(path, sample_rate=SR, backend=backend)
    assert amplitude_at(y, SR, 500) == pytest.approx(0.25, abs=0.01)
    assert amplitude_at(y, SR, 1500) == pytest.approx(0.25, abs=0.01)
    # Channels that cancel in the mean (L = -R) fall back to the first channel, not silence.
    opposite = write_audio(tmp_path / "cancel.wav", np.stack([left, -left], axis=1), 44100)
    assert amplitude_at(decode(opposite, sample_rate=SR, backend=backend), SR, 500) == \
        pytest.approx(0.5, abs=0.02)


def test_192khz_8_channels_mixdown_and_antialiasing(tmp_path: Path) -> None:
    freqs = [500.0 * (k + 1) for k in range(8)]  # 500 .. 4000 Hz, one per channel
    chans = [sine(1.0, 192000, f, 0.4) for f in freqs]
    chans[7] = chans[7] + sine(1.0, 192000, 11000, 0.4)  # above 8 kHz: must not alias to 5 kHz
    path = write_audio(tmp_path / "hires.flac", np.stack(chans, axis=1) * 0.5, 192000)
    info = probe(path)
    assert (info.sample_rate, info.channels) == (192000, 8)
    y = decode(path, sample_rate=SR)
    assert abs(len(y) - SR) <= 2
    for f in freqs:
        assert amplitude_at(y, SR, f) == pytest.approx(0.2 / 8, rel=0.05)
    assert amplitude_at(y, SR, 5000) < 1e-4


@pytest.mark.parametrize("ext", [".wav", ".mp3"])
def test_8khz_mono_is_upsampled(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"phone{ext}", sine(2.0, 8000, 1000), 8000)
    info = probe(path)
    assert (info.sample_rate, info.channels) == (8000, 1)
    y = decode(path, sample_rate=SR)
    assert abs(len(y) - 2 * SR) <= 0.04 * SR
    assert abs(peak_hz(y, SR) - 1000) < 2
    f, mag = spectrum(y, SR)
    assert mag[f > 4200].max() < 1e-3  # nothing invented above the old Nyquist


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".m4a"])
def test_a_tenth_of_a_second_is_a_short_array_not_an_error(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"blip{ext}", sine(0.1, 44100, 440), 44100)
    y = decode(path, sample_rate=SR)
    assert abs(len(y) - 0.1 * SR) <= 0.03 * SR
    assert np.abs(y).max() > 0.3


def test_a_valid_file_with_no_samples_is_an_empty_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros((0, 2), np.float32), 44100)
    assert probe(path).duration_s == 0.0
    err = error_of(path)
    assert (err.kind, str(err)) == ("empty", "no audio in this wav (0 samples)")


def test_header_without_length_still_decodes_fully(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "src.wav", sine(3.0, 44100, 440), 44100)
    streamed = tmp_path / "streamed.flac"  # FLAC written to a pipe: STREAMINFO has no length
    with open(streamed, "wb") as fh:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(src),
                        "-f", "flac", "pipe:1"], stdout=fh, check=True)  # fmt: skip
    assert abs(probe(streamed).duration_s - 3.0) < 0.01
    assert abs(len(decode(streamed, sample_rate=SR)) - 3 * SR) <= 1


def test_vbr_mp3_without_xing_header_is_not_cut_short(tmp_path: Path) -> None:
    # libsndfile stops at a length guessed from the first frame's bitrate (libsndfile #1001):
    # loud noise first (high bitrate), then a quiet tone (low bitrate).
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-0.8, 0.8, 44100 * 2), sine(10.0, 44100, 440, 0.05)])
    src = write_audio(tmp_path / "src.wav", x.astype(np.float32), 44100)
    path = tmp_path / "vbr.mp3"
    ffmpeg("-i", str(src), "-c:a", "libmp3lame", "-q:a", "5", "-write_xing", "0", str(path))
    assert not sniff(str(path)).mp3_length_header
    assert abs(len(decode(path, sample_rate=SR)) - 12 * SR) <= 0.05 * SR


# --------------------------------------------------------------------------------------------
# Names


def test_unicode_and_non_utf8_file_names(tmp_path: Path) -> None:
    for ext in (".flac", ".mp3"):
        path = write_audio(tmp_path / f"Björk – Jóga 🎵{ext}", sine(1.0, 44100, 440), 44100)
        assert abs(len(decode(path, sample_rate=SR)) - SR) < 0.02 * SR
        raw = os.fsencode(tmp_path) + b"/caf\xe9 latin-1" + ext.encode()  # not valid UTF-8
        os.rename(path, raw)
        for name in (raw, os.fsdecode(raw)):  # bytes, and str with surrogate escapes
            assert abs(len(decode(name, sample_rate=SR)) - SR) < 0.02 * SR
            assert probe(name).channels == 1


# --------------------------------------------------------------------------------------------
# Bad input


def test_file_system_problems(tmp_path: Path) -> None:
    (tmp_path / "empty.mp3").write_bytes(b"")
    err = error_of(tmp_path / "empty.mp3")
    assert (err.kind, str(err)) == ("empty", "file is empty (0 bytes)")
    err = error_of(tmp_path / "missing.flac")
    assert (err.kind, str(err)) == ("not_found", "file not found")
    assert error_of(tmp_path).kind == "not_a_file"
    with pytest.raises(DecodeError, match="file not found"):  # lazily, from iteration
        next(decode_blocks(tmp_path / "missing.flac", sample_rate=SR))


@pytest.mark.parametrize("ext", [".mp3", ".flac", ".m4a"])
def test_random_bytes_and_text_are_not_audio(tmp_path: Path, ext: str) -> None:
    junk = tmp_path / f"junk{ext}"
    junk.write_bytes(b"\x00junk" + np.random.default_rng(7).bytes(100_000))
    err = error_of(junk)
    assert err.kind == "not_audio" and str(err).startswith("not an audio file")
    text = tmp_path / f"notes{ext}"
    text.write_text("This is not audio, it is a shopping list.\n" * 50, encoding="utf-8")
    assert str(error_of(text)) == "not an audio file (format not recognised)"


def test_video_without_audio_has_no_audio_stream(tmp_path: Path) -> None:
    path = tmp_path / "silent_film.m4a"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=0.4", "-c:v", "mpeg4",
           "-f", "mp4", str(path))  # fmt: skip
    assert str(error_of(path)) == "not an audio file (no audio stream found)"


@pytest.mark.parametrize("ext", [".mp3", ".flac", ".m4a"])
def test_truncated_files_raise_after_the_blocks_they_had(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"cut{ext}", tone(6.0, 44100, channels=2), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    got: list[np.ndarray] = []
    with pytest.raises(DecodeError) as info:
        for block in decode_blocks(path, sample_rate=SR, block_s=1.0):
            got.append(block)
    err = info.value
    assert err.kind == "corrupt" and str(err).startswith(f"truncated or corrupt {ext[1:]}")
    assert "\n" not in str(err)
    if ext != ".m4a":  # its index (moov) sits at the end: nothing decodes at all
        assert len(got) >= 2  # blocks before the cut came out; the error says to drop them
        assert "6.0 s" in str(err)


def test_small_damage_is_skipped_and_keeps_sample_positions(tmp_path: Path) -> None:
    clean_path = write_audio(tmp_path / "clean.flac", tone(20.0, 44100, channels=2), 44100)
    clean = decode(clean_path, sample_rate=44100)
    data = bytearray(clean_path.read_bytes())
    mid = len(data) * 2 // 3
    data[mid : mid + 64] = bytes(64)  # a few zeroed bytes in one FLAC frame
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(bytes(data))
    # libsndfile gives up there; FFmpeg takes over at the same sample and skips the frame.
    with pytest.raises(DecodeError):
        decode(damaged, sample_rate=44100, backend="soundfile")
    y = decode(damaged, sample_rate=44100)
    assert 0 < len(clean) - len(y) <= 0.15 * 44100
    before = int(10 * 44100)  # well before the damage (and after libsndfile's last read)
    np.testing.assert_array_equal(y[:before], clean[:before])


def test_heavy_damage_mid_way_is_an_error(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "bitrot.mp3", tone(10.0, 44100, channels=2), 44100)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 30_000] = np.random.default_rng(3).bytes(30_000)
    path.write_bytes(bytes(data))
    err = error_of(path)
    assert err.kind == "corrupt" and str(err).startswith("truncated or corrupt mp3")


def test_unreadable_file(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "secret.flac", sine(0.5, 44100, 440), 44100)
    path.chmod(0)
    if os.geteuid() != 0:
        err = error_of(path)
        assert (err.kind, str(err)) == ("permission", "permission denied")
        return
    # Root reads anything, through the DAC-override capabilities: ask a child without them.
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing")
    caps = "-dac_override,-dac_read_search"
    script = ("import sys; from tagger.audio.decode import decode, DecodeError\n"
              "try: decode(sys.argv[1], sample_rate=16000)\n"
              "except DecodeError as e: print(e.kind, '|', e)\n")  # fmt: skip
    out = subprocess.run(
        [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", sys.executable, "-c", script,
         str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if out.returncode != 0:
        pytest.skip(f"cannot drop capabilities here: {out.stderr.strip()[-200:]}")
    assert out.stdout.strip() == "permission | permission denied"


# --------------------------------------------------------------------------------------------
# Quiet, and the arguments


def test_nothing_reaches_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # A damaged mp3 whose header still matches its size goes to libsndfile's mpg123, which
    # writes "Note: Illegal Audio-MPEG-Header ..." to fd 2 unless silenced.
    path = write_audio(tmp_path / "noisy.mp3", tone(6.0, 44100, channels=2), 44100)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 3000] = np.random.default_rng(5).bytes(3000)
    path.write_bytes(bytes(data))
    cut = tmp_path / "cut.flac"
    flac = write_audio(tmp_path / "whole.flac", tone(3.0, 44100), 44100).read_bytes()
    cut.write_bytes(flac[: len(flac) // 2])
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(1).bytes(70_000))
    capfd.readouterr()
    for p in (path, cut, junk):
        for backend in ("auto", *BACKENDS):
            try:
                decode(p, sample_rate=SR, backend=backend)
                probe(p, backend=backend)
            except DecodeError:
                pass
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    os.write(2, b"still here\n")  # fd 2 was given back
    assert capfd.readouterr().err == "still here\n"


def test_bad_arguments(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", sine(0.2, 44100, 440), 44100)
    with pytest.raises(ValueError):
        decode(path, sample_rate=0)
    with pytest.raises(ValueError):
        decode(path, sample_rate=SR, backend="gstreamer")
    with pytest.raises(ValueError):
        next(decode_blocks(path, sample_rate=SR, block_s=0))


def test_probe_reads_headers_only(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "cut.mp3", tone(6.0, 44100, channels=2), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    # The header still says 6 s: probe believes it (it decodes nothing); decode finds out.
    assert probe(path) == AudioInfo(6.0, 44100, 2, "mp3")
    assert error_of(path).kind == "corrupt"


KLETTRES_FLOOR0 = Path("/usr/share/klettres/cs/syllab/ad-9.ogg")


@pytest.mark.skipif(not KLETTRES_FLOOR0.exists(), reason="needs Debian klettres-data")
def test_vorbis_floor0_file_decodes_whole() -> None:
    """FFmpeg's native Vorbis decoder lacks floor 0 (these files); libvorbis reads them."""
    import soundfile as sf

    audio = decode(KLETTRES_FLOOR0, sample_rate=16000)
    assert abs(len(audio) / 16000 - sf.info(str(KLETTRES_FLOOR0)).duration) < 0.01
