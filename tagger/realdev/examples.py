"""The example library as a benchmark: what ``make demo`` reports against ANSWERS.json.

Per track, the instruments a scan reports (at least one segment) are compared with the ones
that really play, and the lead (the reported instrument with the most foreground time) with
the part that leads longest. ``examples_items`` makes the tracks realdev-style items so the
same window scores and decision rules can be measured on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from tagger.config import examples_dir
from tagger.realdev.sets import Item, Part

EXAMPLES_DIR = examples_dir()
WHOLE_TRACK_S = 24 * 3600.0


def answers(folder: Path = EXAMPLES_DIR) -> dict[str, dict]:
    """ANSWERS.json's tracks: file name -> {instruments, lead, duration_s, ...}."""
    return json.loads((folder / "ANSWERS.json").read_text(encoding="utf-8"))["tracks"]


def lead_instrument(track: dict) -> str | None:
    """The instrument that leads longest in a track of ANSWERS.json."""
    totals: dict[str, float] = {}
    for span in track.get("lead", []):
        totals[span["instrument"]] = totals.get(span["instrument"], 0.0) + span["end"] - span["start"]
    return max(totals, key=totals.__getitem__) if totals else None


def examples_items(folder: Path = EXAMPLES_DIR) -> list[Item]:
    """One item per answered track, whole."""
    return [Item(name, "examples", "track", (Part(str((folder / name).resolve())),),
                 frozenset(t["instruments"]), duration_s=WHOLE_TRACK_S)
            for name, t in sorted(answers(folder).items())]


def score_reports(reports: dict[str, tuple[set[str], str | None]],
                  folder: Path = EXAMPLES_DIR) -> dict:
    """Precision/recall of reported instruments per track, and lead accuracy.

    ``reports``: file name -> (reported instruments, reported lead or None).
    """
    truth = answers(folder)
    tp = fp = fn = lead_hits = 0
    tracks = {}
    for name, track in sorted(truth.items()):
        got, lead = reports.get(name, (set(), None))
        real = set(track["instruments"])
        tp += len(got & real)
        fp += len(got - real)
        fn += len(real - got)
        real_lead = lead_instrument(track)
        lead_hits += int(lead is not None and lead == real_lead)
        tracks[name] = {"reported": sorted(got), "wrong": sorted(got - real),
                        "missed": sorted(real - got), "lead": lead, "true_lead": real_lead}
    return {"precision": round(tp / (tp + fp), 4) if tp + fp else float("nan"),
            "recall": round(tp / (tp + fn), 4) if tp + fn else float("nan"),
            "right": tp, "wrong": fp, "missed": fn,
            "lead_accuracy": round(lead_hits / len(truth), 4), "tracks": tracks}


def reports_from_segments(rows: Iterable[tuple[str, Sequence]]) -> dict[str, tuple[set[str], str | None]]:
    """(file name, segments) pairs -> what each track reports (classes, lead by foreground time)."""
    out = {}
    for name, segments in rows:
        fg: dict[str, float] = {}
        for s in segments:
            if s.role == "foreground":
                fg[s.instrument] = fg.get(s.instrument, 0.0) + s.end - s.start
        lead = max(fg, key=fg.__getitem__) if fg else None
        out[name] = ({s.instrument for s in segments}, lead)
    return out
