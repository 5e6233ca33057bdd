"""One track's instruments over time as a terminal timeline (the PNG is :mod:`tagger.plot`).

The timeline is pure text building (rich ``Text`` lines, testable as plain strings).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from tagger.errors import TaggerError
from tagger.palette import instrument_colour
from tagger.printable import printable
from tagger.store.db import InstrumentSummary, SegmentRow, Store, display_path
from tagger.store.lookups import paths_ending_with

__all__ = ["TrackNotFoundError", "resolve_track", "timeline_lines", "time_ticks", "format_time"]

FOREGROUND_CHAR = "█"
BACKGROUND_CHAR = "▒"
EMPTY_CHAR = "·"
# Tick spacings in seconds, smallest first; the timeline picks the first that leaves room.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


class TrackNotFoundError(TaggerError, LookupError):
    """No stored track (or more than one) matches what the user typed."""


def resolve_track(store: Store, query: str | os.PathLike[str]) -> dict[str, Any]:
    """The track row for a path or a unique end of a stored path, or a helpful error."""
    row = store.find_track(query)
    if row is not None:
        return row
    text = display_path(query)
    matches = paths_ending_with(store, text, limit=4)
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
        color = instrument_colour(inst.instrument)
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
