"""One track's instruments over time: a terminal timeline and a PNG over its log-mel spectrogram.

The timeline is pure text building (rich ``Text`` lines, testable as plain strings); the plot
imports matplotlib and the decoder only when called, so ``tagger show`` without ``--plot``
starts as fast as ``tagger query``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from tagger import taxonomy
from tagger.export import atomic_file
from tagger.printable import printable
from tagger.store.db import InstrumentSummary, SegmentRow, Store, display_path

__all__ = ["TrackNotFoundError", "AudioUnavailableError", "resolve_track", "timeline_lines",
           "time_ticks", "plot_track"]

FOREGROUND_CHAR = "█"
BACKGROUND_CHAR = "▒"
EMPTY_CHAR = "·"
# Tick spacings in seconds, smallest first; the timeline picks the first that leaves room.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
# Colours per class in taxonomy order, so an instrument keeps its colour across plots.
PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
           "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8",
           "#800000", "#aaffc3", "#808000", "#ffd8b1", "#000075", "#808080")


class TrackNotFoundError(LookupError):
    """No stored track (or more than one) matches what the user typed."""


class AudioUnavailableError(OSError):
    """The track's audio file cannot be read for plotting (moved, deleted, undecodable)."""


def resolve_track(store: Store, query: str | os.PathLike[str]) -> dict[str, Any]:
    """The track row for a path or a unique end of a stored path, or a helpful error."""
    row = store.find_track(query)
    if row is not None:
        return row
    text = display_path(query)
    like = "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    matches = [r[0] for r in store.conn.execute(
        "SELECT path FROM tracks WHERE path LIKE ? ESCAPE '\\' ORDER BY path LIMIT 4", (like,))]
    if len(matches) > 1:
        shown = ", ".join(printable(m) for m in matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise TrackNotFoundError(f"{text!r} matches several tracks ({shown}); give more of the path")
    raise TrackNotFoundError(f"no track {text!r} in {store.path} (give a stored path or its end)")


def format_time(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_ticks(duration: float, width: int, *, min_gap: int = 8) -> list[float]:
    """Tick times for an axis ``width`` characters wide: the finest step keeping labels apart."""
    if duration <= 0 or width <= 0:
        return [0.0]
    for step in TICK_STEPS:
        if step / duration * width >= min_gap:
            break
    count = int(duration // step)
    return [float(k * step) for k in range(count + 1)]


def _bar(duration: float, segments: Sequence[SegmentRow], width: int) -> str:
    """One character per ``duration / width`` seconds: foreground wins over background."""
    cells = [EMPTY_CHAR] * width
    if duration <= 0:
        return "".join(cells)
    scale = width / duration
    for seg in sorted(segments, key=lambda s: s.role == "foreground"):
        first = max(0, int(seg.start * scale))
        last = min(width - 1, int(max(seg.start, seg.end - 1e-9) * scale))
        char = FOREGROUND_CHAR if seg.role == "foreground" else BACKGROUND_CHAR
        for i in range(first, last + 1):
            cells[i] = char
    return "".join(cells)


def _axis(duration: float, width: int, indent: int, spare: int) -> tuple[str, str]:
    """The axis under a bar ``width`` wide, and its time labels (the last may run ``spare``
    characters past the bar's end)."""
    ticks = time_ticks(duration, width)
    marks = ["─"] * width
    labels = [" "] * (width + spare)
    next_free = 0
    for t in ticks:
        pos = min(width - 1, int(t / duration * width)) if duration > 0 else 0
        marks[pos] = "┬"
        label = format_time(t)
        if pos >= next_free and pos + len(label) <= len(labels):
            labels[pos:pos + len(label)] = label
            next_free = pos + len(label) + 1
    return " " * indent + "└" + "".join(marks) + "┘", " " * (indent + 1) + "".join(labels).rstrip()


LEAD_MARK = " lead"


def _header(track: dict[str, Any], width: int) -> list[Text]:
    """The path (folded at ``width`` if longer), then length, format and model: on the same
    line when they fit, else on the next."""
    path = printable(track["path"])
    length = format_time(float(track["duration"])) if track.get("duration") is not None else "?"
    details = f"{length}  {track.get('format') or '?'}  model {track.get('model') or '?'}"
    if len(path) + 2 + len(details) <= width:
        line = Text(path, style="bold")
        line.append(f"  {details}", style="dim")
        return [line]
    pieces = [path[i:i + width] for i in range(0, len(path), width)] or [""]
    return [Text(p, style="bold") for p in pieces] + [Text(details, style="dim")]


def wrap_items(prefix: str, items: Sequence[str], width: int) -> list[str]:
    """``prefix`` then the items joined by ``, ``, broken into lines of at most ``width``
    only between items (an item is never split), continuation lines indented."""
    indent = " " * min(len(prefix) + 1, width // 3)
    lines: list[str] = []
    line = prefix
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "")
        candidate = f"{line} {piece}" if line.strip() else line + piece
        if len(candidate) > width and line.strip():
            lines.append(line)
            candidate = indent + piece
        line = candidate
    lines.append(line)
    return lines


def timeline_lines(
    track: dict[str, Any],
    instruments: Sequence[InstrumentSummary],
    segments: Sequence[SegmentRow],
    *,
    width: int = 100,
) -> list[Text]:
    """The ``tagger show`` text: a header, one bar per present instrument, a time axis.

    Instruments with coverage > 0 get a row (best score first) with their score, coverage and
    a bar over the whole track (``█`` foreground, ``▒`` background), room for the `` lead``
    mark kept inside ``width``; the absent ones are named with their scores on lines broken
    between names, so "why is X not there" has an answer too. Every line fits ``width``
    (from 40 columns up).
    """
    duration = float(track.get("duration") or 0.0)
    lines = _header(track, width)
    if track.get("status") != "ok":
        lines.append(Text(f"error: {printable(track.get('error') or 'unknown error')}",
                          style="red"))
        return lines
    present = sorted((i for i in instruments if i.coverage > 0), key=lambda i: -i.score)
    absent = sorted((i for i in instruments if i.coverage <= 0), key=lambda i: -i.score)
    name_w = max([len(i.instrument) for i in present] + [10])
    indent = name_w + 1 + 5 + 1 + 4 + 1
    bar_w = max(10, width - indent - 2 - len(LEAD_MARK))
    by_name: dict[str, list[SegmentRow]] = {}
    for seg in segments:
        by_name.setdefault(seg.instrument, []).append(seg)
    if not present:
        lines.append(Text("no instrument present", style="dim"))
    else:
        lines.append(Text(f"{'instrument':<{name_w}} score  cov", style="dim"))
    for inst in present:
        color = PALETTE[_colour_index(inst.instrument) % len(PALETTE)]
        line = Text(f"{inst.instrument:<{name_w}} {inst.score:5.2f} {inst.coverage:4.0%} ")
        line.append("│", style="dim")
        line.append(_bar(duration, by_name.get(inst.instrument, []), bar_w), style=color)
        line.append("│", style="dim")
        if inst.role == "foreground":
            line.append(LEAD_MARK, style="bold")
        lines.append(line)
    if present:
        axis, labels = _axis(duration, bar_w, indent, spare=len(LEAD_MARK) + 1)
        lines += [Text(axis, style="dim"), Text(labels, style="dim")]
        lines.append(Text(f"{FOREGROUND_CHAR} foreground ({LEAD_MARK.strip()})  "
                          f"{BACKGROUND_CHAR} background", style="dim"))
    if absent:
        names = [f"{i.instrument} {i.score:.2f}" for i in absent]
        lines += [Text(t, style="dim") for t in wrap_items("not present:", names, width)]
    return lines


def _colour_index(name: str) -> int:
    try:
        return taxonomy.CLASSES.index(name)
    except ValueError:
        return len(taxonomy.CLASSES) + sum(map(ord, name))


def _load_audio(path: str | bytes, sample_rate: int) -> Any:
    try:
        from tagger.decode import DecodeError, decode
    except ImportError:  # decoder not installed: librosa reads what libsndfile/audioread can
        import librosa

        try:
            return librosa.load(os.fsdecode(path), sr=sample_rate, mono=True)[0]
        except Exception as exc:  # librosa raises many kinds; all mean "cannot read it"
            raise AudioUnavailableError(f"cannot decode {display_path(path)}: {exc}") from None
    try:
        return decode(path, sample_rate=sample_rate)
    except DecodeError as exc:
        raise AudioUnavailableError(f"cannot decode {display_path(path)}: {exc}") from None


def mel_filterbank(*, sr: int, n_fft: int, n_mels: int) -> Any:
    """HTK-style triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``.

    A plot needs a readable picture, not the model's exact input (that is the network's own
    frontend); numpy alone keeps ``--plot`` from importing scipy through librosa (seconds).
    """
    import numpy as np

    def to_mel(hz: Any) -> Any:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    edges_hz = 700.0 * (10 ** (np.linspace(0.0, to_mel(sr / 2), n_mels + 2) / 2595.0) - 1.0)
    bins = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def log_mel_db(
    audio: Any, *, sr: int, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128,
    top_db: float = 80.0, block_frames: int = 4096,
) -> Any:
    """Log-mel power spectrogram in dB below its peak, shape ``(n_mels, frames)``.

    Frames are transformed ``block_frames`` at a time, so a long track never needs its whole
    ``frames x n_fft`` frame matrix in memory at once.
    """
    import numpy as np

    padded = np.pad(np.asarray(audio, dtype=np.float32), n_fft // 2, mode="reflect"
                    if len(audio) > n_fft // 2 else "constant")
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = np.hanning(n_fft).astype(np.float32)
    filters = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels)
    out = np.empty((n_mels, len(frames)), dtype=np.float32)
    for start in range(0, len(frames), block_frames):
        block = frames[start:start + block_frames] * window
        power = np.abs(np.fft.rfft(block, axis=1)) ** 2
        out[:, start:start + len(block)] = filters @ power.T
    db = 10.0 * np.log10(np.maximum(out, 1e-10))
    return np.maximum(db - db.max(), -top_db)


def plot_track(
    store: Store,
    track: dict[str, Any],
    out_png: str | os.PathLike[str],
    *,
    sample_rate: int = 22050,
    n_mels: int = 128,
    hop_length: int = 512,
) -> Path:
    """Draw the track's segments over its log-mel spectrogram into ``out_png``.

    Each present instrument gets a lane (a horizontal band, named on the right axis) drawn
    translucently over the spectrogram: solid for foreground, hatched and lighter for
    background, so the music under a segment stays visible. Uses matplotlib's object API with
    the Agg canvas (no pyplot, no display needed). Raises :class:`AudioUnavailableError`.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import FuncFormatter

    raw_path = bytes(track["path_key"]) if track.get("path_key") else track["path"]
    if not os.path.isfile(raw_path):
        raise AudioUnavailableError(f"audio file {display_path(raw_path)} is missing"
                                    " (moved or deleted since the scan?)")
    audio = _load_audio(raw_path, sample_rate)
    seconds = len(audio) / sample_rate
    duration = max(seconds, float(track.get("duration") or 0.0))
    if len(audio) == 0:
        audio = np.zeros(hop_length, dtype=np.float32)
    mel_db = log_mel_db(audio, sr=sample_rate, n_fft=2048, hop_length=hop_length, n_mels=n_mels)

    instruments = [i for i in store.instruments(track["id"]) if i.coverage > 0]
    segments = store.segments(track["id"])
    lanes = [i.instrument for i in instruments] or []
    lanes += sorted({s.instrument for s in segments} - set(lanes))
    lanes.reverse()  # best score on top

    fig = Figure(figsize=(12, 4 + 0.25 * len(lanes)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(mel_db, origin="lower", aspect="auto", cmap="magma",
              extent=(0.0, seconds or duration, 0.0, float(n_mels)), interpolation="nearest")
    ax.set_xlim(0.0, duration or 1.0)
    ax.set_ylabel("mel band")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_time(x)))
    ax.set_title(f"{os.path.basename(track['path'])}  ({track.get('model') or '?'})", fontsize=10)

    lane_ax = ax.twinx()
    lane_ax.set_ylim(0.0, max(1, len(lanes)))
    lane_ax.set_yticks([k + 0.5 for k in range(len(lanes))], labels=lanes, fontsize=8)
    colour = {name: PALETTE[_colour_index(name) % len(PALETTE)] for name in lanes}
    for seg in segments:
        k = lanes.index(seg.instrument)
        fg = seg.role == "foreground"
        lane_ax.add_patch(Rectangle(
            (seg.start, k + 0.1), max(seg.end - seg.start, 1e-3), 0.8,
            facecolor=colour[seg.instrument], alpha=0.4 if fg else 0.2,
            edgecolor=colour[seg.instrument], linewidth=1.0, hatch=None if fg else "///"))
    handles = [Patch(facecolor=colour[n], edgecolor=colour[n], alpha=0.6, label=n)
               for n in reversed(lanes)]
    handles += [Patch(facecolor="grey", alpha=0.5, label="foreground"),
                Patch(facecolor="grey", alpha=0.25, hatch="///", label="background")]
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=8,
               frameon=False)
    rows = (len(handles) + 7) // 8
    fig.subplots_adjust(left=0.07, right=0.88, top=0.92, bottom=(0.55 + 0.25 * rows) / fig.get_figheight())

    with atomic_file(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return Path(out_png)
