"""`tagger show --plot`: a real scan of the example sax track drawn to a PNG, read back by pixel.

The lanes are checked in the written file: inside each stored segment the lane shows the
instrument's colour (solid for foreground, its lighter hatched tint for background), and where
the instrument has no segment the lane is empty backdrop.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from matplotlib.colors import to_rgb
from typer.testing import CliRunner

from audiofiles import tone, write_audio
from library_store import track_result
from tagger import taxonomy
from tagger.cli.app import app
from tagger.palette import PALETTE, instrument_colour
from tagger.plot import (BACKGROUND_TINT, LANE_STRIPE, AudioUnavailableError, figure_size_px,
                         plot_track, track_figure)
from tagger import ScanOptions, scan
from tagger.audio.spectrogram import mel_axis
from tagger.store import Store

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SAX_TRACK = Path(__file__).parents[1] / "examples" / "library" / "01-blue-room-sax-quartet.mp3"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example sax quartet scanned with the shipped default model into a fresh store."""
    folder = tmp_path_factory.mktemp("plot")
    shutil.copy(SAX_TRACK, folder / SAX_TRACK.name)
    db = folder / "lib.db"
    with Store(db) as store:
        report = scan([str(folder)], store=store, options=ScanOptions(device="cpu", workers=0))
    assert report.scanned == 1 and report.failed == 0
    return db


def test_plot_of_a_scanned_track_has_a_lane_per_instrument(scanned: Path) -> None:
    out = scanned.parent / "sax.png"
    cli = runner.invoke(app, ["show", "--db", str(scanned), SAX_TRACK.name, "--plot", str(out)])
    assert cli.exit_code == 0, cli.output
    assert f"wrote {out}" in cli.output

    with Store(scanned) as store:
        track = store.find_track(str(scanned.parent / SAX_TRACK.name))
        segments = store.segments(track["id"])
        fig = track_figure(store, track)  # the same layout, for where things are
    lanes_ax = next(ax for ax in fig.axes if ax.get_label() == "lanes")
    spec_ax = next(ax for ax in fig.axes if ax.get_label() == "spectrogram")
    lanes = [t.get_text() for t in lanes_ax.get_yticklabels()]
    assert segments and len(lanes) == len({s.instrument for s in segments})
    assert png_size(out) == figure_size_px(len(lanes)) == (1200, 462 + 30 * len(lanes))

    # Two panels: the spectrogram above the lanes; Hz on a mel axis, time in m:ss under both.
    assert spec_ax.get_position().y0 > lanes_ax.get_position().y1
    assert "Hz" in spec_ax.get_ylabel()
    assert "1k" in [t.get_text() for t in spec_ax.get_yticklabels()]
    assert [t.get_text() for t in lanes_ax.get_xticklabels()][:3] == ["0:00", "0:10", "0:20"]

    pixels = image.imread(out)[:, :, :3]
    height = pixels.shape[0]

    def pixel(t: float, lane: int) -> np.ndarray:
        x, y = lanes_ax.transData.transform((t, lanes.index(lane.replace("_", " ")) + 0.5))
        return pixels[int(round(height - y)), int(round(x))]

    backdrops = [np.array((1.0, 1.0, 1.0)), np.array(to_rgb(LANE_STRIPE))]
    by_lane: dict[str, list] = {}
    for seg in segments:
        by_lane.setdefault(seg.instrument, []).append(seg)
        colour = np.array(to_rgb(instrument_colour(seg.instrument)))
        tint = colour + (1.0 - colour) * BACKGROUND_TINT
        got = pixel((seg.start + seg.end) / 2, seg.instrument)
        if seg.role == "foreground":
            assert np.abs(got - colour).max() < 0.02, (seg, got)
        else:  # on the line from the tint to the colour (hatch lines are antialiased)
            span = colour - tint
            share = np.clip(np.dot(got - tint, span) / np.dot(span, span), 0.0, 1.0)
            assert np.abs(got - (tint + share * span)).max() < 0.05, (seg, got)
        assert min(np.abs(got - b).max() for b in backdrops) > 0.1, (seg, got)
    duration = float(track["duration"])
    empty_seen = 0
    for name, segs in by_lane.items():
        edges = [0.0] + [t for s in sorted(segs, key=lambda s: s.start) for t in (s.start, s.end)]
        gaps = [(b - a, (a + b) / 2) for a, b in zip(edges[::2], edges[1::2] + [duration])]
        width, middle = max(gaps)
        if width > 1.0:
            got = pixel(middle, name)
            assert min(np.abs(got - b).max() for b in backdrops) < 0.1, (name, middle, got)
            empty_seen += 1
    assert empty_seen


def test_plot_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "song.wav", tone(8.0, 16000), 16000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    with Store(tmp_path / "p.db") as s:
        s.write_results([track_result(str(wav), 8.0, "wav", {"piano": (0.9, 0.5, "foreground")}),
                         track_result(str(bad), 8.0, "wav", {"piano": (0.9, 0.5, "foreground")})])
        out = tmp_path / "x.png"
        with pytest.raises(AudioUnavailableError, match="cannot decode"):
            plot_track(s, s.find_track(str(bad)), out)
        wav.unlink()
        with pytest.raises(AudioUnavailableError, match="missing"):
            plot_track(s, s.find_track(str(wav)), out)
        cli = runner.invoke(app, ["show", "--db", str(s.path), "song.wav", "--plot", str(out)])
    assert cli.exit_code == 1
    assert "missing" in cli.output and "Traceback" not in cli.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav", "p.db"]


def test_palette_gives_every_class_its_own_colour_that_shows_on_white() -> None:
    assert set(PALETTE) == set(taxonomy.CLASSES)
    assert len(set(PALETTE.values())) == len(PALETTE)
    for name in taxonomy.CLASSES:
        assert min(to_rgb(instrument_colour(name))) < 0.65, name  # not a pastel lost on white
    assert instrument_colour("theremin") in PALETTE.values()  # a class an old model knew


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100])
def test_mel_axis_ticks_are_hz_in_order_inside_the_image(sample_rate: int) -> None:
    (bottom, top), ticks = mel_axis(sample_rate, 128)
    positions = [mel for mel, _ in ticks]
    assert positions == sorted(positions) and bottom < positions[0] and positions[-1] < top
    assert dict((label, mel) for mel, label in ticks)["1k"] == pytest.approx(1000.0, abs=0.1)


@pytest.mark.parametrize(("sample_rate", "n_fft", "n_mels"),
                         [(22050, 2048, 128), (44100, 2048, 128), (8000, 512, 64)])
def test_display_mel_filters_are_librosas(sample_rate: int, n_fft: int, n_mels: int) -> None:
    """The one filterbank of the plot and the label page is librosa's, without its import cost."""
    import librosa.filters

    from tagger.audio.spectrogram import FMIN_HZ, mel_filters

    ours = mel_filters(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels)
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=FMIN_HZ,
                                 fmax=sample_rate / 2, htk=True, norm=None)
    assert ours.shape == theirs.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert (ours.max(axis=1) > 0.3).all()  # no empty band
