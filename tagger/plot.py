"""``tagger show --plot``: one track's log-mel spectrogram with its instrument lanes under it.

Two panels sharing one time axis (m:ss): the spectrogram on top (frequency in Hz on a mel
scale, a dB colour bar), and below it one lane per instrument, best score first, drawn in the
instrument's palette colour on white: solid for foreground, a lighter hatched bar for
background. Nothing is drawn over the spectrogram, so no colour can vanish into it.

matplotlib (object API with the Agg canvas: no pyplot, no display) and the decoder are
imported only when a plot is drawn, so ``tagger show`` alone starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagger.errors import TaggerError
from tagger.export import atomic_file
from tagger.palette import instrument_colour
from tagger.printable import printable
from tagger.show import format_time, time_ticks
from tagger.store.db import InstrumentSummary, SegmentRow, Store, display_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["AudioUnavailableError", "track_figure", "plot_track", "figure_size_px"]

DPI = 100
WIDTH_IN = 12.0
SPECTROGRAM_IN = 3.0  # the spectrogram panel's height
LANE_IN = 0.3  # one instrument lane
TOP_IN, GAP_IN, BOTTOM_IN = 0.65, 0.12, 0.85  # title; between the panels; time axis + legend
LEFT_IN, RIGHT_IN = 1.35, 1.0  # instrument names; scores and the dB colour bar
BACKGROUND_TINT = 0.55  # how far a background bar's fill is mixed towards white
LANE_STRIPE = "#f2f2f2"  # every other lane's backdrop, to follow a row across


class AudioUnavailableError(TaggerError, OSError):
    """The track's audio file cannot be read for plotting (moved, deleted, undecodable)."""


def figure_size_px(n_lanes: int) -> tuple[int, int]:
    """The PNG's ``(width, height)`` in pixels for a plot with ``n_lanes`` instrument lanes."""
    return round(WIDTH_IN * DPI), round(_height_in(n_lanes) * DPI)


def _height_in(n_lanes: int) -> float:
    return TOP_IN + SPECTROGRAM_IN + GAP_IN + LANE_IN * max(1, n_lanes) + BOTTOM_IN


def _load_audio(path: str | bytes, sample_rate: int) -> Any:
    """The whole track through tagger's one decoder, with errors a user can act on."""
    from tagger.audio.decode import DecodeError, decode

    try:
        return decode(path, sample_rate=sample_rate)
    except DecodeError as exc:
        if exc.kind == "not_found":
            raise AudioUnavailableError(f"audio file {display_path(path)} is missing"
                                        " (moved or deleted since the scan?)") from None
        raise AudioUnavailableError(f"cannot decode {display_path(path)}: {exc}") from None


def _lane_order(instruments: Sequence[InstrumentSummary], segments: Sequence[SegmentRow]
                ) -> list[str]:
    """Present instruments best score first, then any other instrument that has a segment."""
    lanes = [i.instrument for i in instruments if i.coverage > 0]
    return lanes + sorted({s.instrument for s in segments} - set(lanes))


def _tint(colour: str, amount: float) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return tuple(c + (1.0 - c) * amount for c in to_rgb(colour))  # type: ignore[return-value]


def _draw_spectrogram(fig: Figure, rect: Sequence[float], cbar_rect: Sequence[float],
                      audio: Any, *, sample_rate: int, n_mels: int, hop_length: int) -> Any:
    from tagger.audio.spectrogram import log_mel_db, mel_axis

    mel_db = log_mel_db(audio, sample_rate=sample_rate, hop_length=hop_length, n_mels=n_mels)
    (bottom, top), ticks = mel_axis(sample_rate, n_mels)
    half = hop_length / sample_rate / 2  # column k is centred on k * hop
    ax = fig.add_axes(rect, label="spectrogram", facecolor="black")  # black: no audio there
    image = ax.imshow(mel_db, origin="lower", aspect="auto", cmap="magma", vmin=-80.0, vmax=0.0,
                      extent=(-half, mel_db.shape[1] * 2 * half - half, bottom, top),
                      interpolation="nearest")
    ax.set_ylim(bottom, top)
    ax.set_yticks([mel for mel, _ in ticks], labels=[text for _, text in ticks], fontsize=8)
    ax.set_ylabel("frequency (Hz, mel scale)", fontsize=9)
    ax.tick_params(axis="x", labelbottom=False)
    cax = fig.add_axes(cbar_rect, label="colour bar")
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("dB below peak", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return ax


def _draw_lanes(ax: Any, lanes: list[str], instruments: Sequence[InstrumentSummary],
                segments: Sequence[SegmentRow]) -> None:
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    rows = max(1, len(lanes))
    ax.set_ylim(rows, 0)  # lane 0 (best score) on top
    for k in range(1, rows, 2):
        ax.axhspan(k, k + 1, color=LANE_STRIPE, zorder=0, linewidth=0)
    if not lanes:
        ax.text(0.5, 0.5, "no instrument present", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color="#555555")
    ax.set_yticks([k + 0.5 for k in range(len(lanes))],
                  labels=[name.replace("_", " ") for name in lanes], fontsize=9)
    ax.tick_params(axis="y", length=0)
    for seg in segments:
        k = lanes.index(seg.instrument)
        colour = instrument_colour(seg.instrument)
        width = max(seg.end - seg.start, 1e-3)
        if seg.role == "foreground":
            patch = Rectangle((seg.start, k + 0.15), width, 0.7, facecolor=colour,
                              edgecolor=colour, linewidth=0.8, zorder=2)
        else:
            patch = Rectangle((seg.start, k + 0.15), width, 0.7, zorder=2, linewidth=0.8,
                              facecolor=_tint(colour, BACKGROUND_TINT), edgecolor=colour,
                              hatch="////")
        ax.add_patch(patch)
    summary = {i.instrument: i for i in instruments}
    right = blended_transform_factory(ax.transAxes, ax.transData)
    for k, name in enumerate(lanes):
        inst = summary.get(name)
        if inst is not None:
            note = f"{inst.score:.2f}" + ("  lead" if inst.role == "foreground" else "")
            ax.text(1.008, k + 0.5, note, transform=right, va="center", fontsize=8,
                    color="#333333")


def _draw_legend(fig: Figure) -> None:
    from matplotlib.patches import Patch

    grey = "#555555"
    handles = [Patch(facecolor=grey, edgecolor=grey, label="foreground"),
               Patch(facecolor=_tint(grey, BACKGROUND_TINT), edgecolor=grey, hatch="////",
                     label="background")]
    fig.legend(handles=handles, loc="lower right", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(1.0 - RIGHT_IN / WIDTH_IN, 0.0),
               title="lane bars (right: track score, lead = mostly foreground)",
               title_fontsize=7)


def track_figure(
    store: Store,
    track: dict[str, Any],
    *,
    sample_rate: int = 22050,
    n_mels: int = 128,
    hop_length: int = 512,
) -> Figure:
    """The plot of one stored track as a matplotlib ``Figure`` (axes labelled ``spectrogram``
    and ``lanes``). Raises :class:`AudioUnavailableError` when its file cannot be decoded."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    raw_path = bytes(track["path_key"]) if track.get("path_key") else track["path"]
    audio = _load_audio(raw_path, sample_rate)
    duration = max(len(audio) / sample_rate, float(track.get("duration") or 0.0)) or 1.0
    if len(audio) == 0:
        audio = np.zeros(hop_length, dtype=np.float32)
    instruments = store.instruments(track["id"])
    segments = store.segments(track["id"])
    lanes = _lane_order(instruments, segments)

    width_px, height_px = figure_size_px(len(lanes))
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    h = height_px / DPI
    left, plot_w = LEFT_IN / WIDTH_IN, 1.0 - (LEFT_IN + RIGHT_IN) / WIDTH_IN
    lanes_h = LANE_IN * max(1, len(lanes)) / h
    lanes_bottom = BOTTOM_IN / h
    spec_bottom = lanes_bottom + lanes_h + GAP_IN / h
    spec_rect = (left, spec_bottom, plot_w, SPECTROGRAM_IN / h)
    cbar_rect = (left + plot_w + 0.1 / WIDTH_IN, spec_bottom, 0.12 / WIDTH_IN, SPECTROGRAM_IN / h)
    spec_ax = _draw_spectrogram(fig, spec_rect, cbar_rect, audio, sample_rate=sample_rate,
                                n_mels=n_mels, hop_length=hop_length)
    lane_ax = fig.add_axes((left, lanes_bottom, plot_w, lanes_h), label="lanes", sharex=spec_ax)
    _draw_lanes(lane_ax, lanes, instruments, segments)

    ticks = time_ticks(duration, 12, min_gap=1)  # about ten labelled times
    lane_ax.set_xlim(0.0, duration)
    lane_ax.set_xticks(ticks, labels=[format_time(t) for t in ticks], fontsize=8)
    lane_ax.set_xlabel("time (m:ss)", fontsize=9)
    for ax in (spec_ax, lane_ax):
        ax.grid(axis="x", color="#ffffff" if ax is spec_ax else "#cccccc", alpha=0.35,
                linewidth=0.6)
    name = printable(os.path.basename(str(track["path"])))
    folder = printable(os.path.dirname(str(track["path"])))
    fig.text(left, 1.0 - 0.22 / h, name, fontsize=12, fontweight="bold", va="center")
    details = [format_time(duration), track.get("format") or "?",
               f"model {track.get('model') or '?'}", folder]
    fig.text(left, 1.0 - 0.47 / h, "  ·  ".join(details), fontsize=8, color="#555555",
             va="center")
    _draw_legend(fig)
    return fig


def plot_track(
    store: Store,
    track: dict[str, Any],
    out_png: str | os.PathLike[str],
    *,
    sample_rate: int = 22050,
    n_mels: int = 128,
    hop_length: int = 512,
) -> Path:
    """Draw :func:`track_figure` into ``out_png`` (replaced atomically); returns its path."""
    fig = track_figure(store, track, sample_rate=sample_rate, n_mels=n_mels,
                       hop_length=hop_length)
    with atomic_file(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return Path(out_png)
