"""Every table and timeline of the real `tagger` fits the terminal it is in (80 and 120
columns): no wrapped ` lead` marks, no numbers or words broken across lines, no cut headers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from cli_run import tagger, widest
from library_store import fill_store, track_result
from tagger.cli.scan_progress import RichProgress, eta_text, format_eta
from tagger.model.card import ModelCard
from tagger.taxonomy import CLASSES

LONG_NAME = "/music/A Rather Long Folder Name/Another Level/08 - An Extremely Long Song Title.flac"
ABSENT_ITEM = re.compile(r"[a-z_]+ \d\.\d\d")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("layout") / "lib.db"
    store = fill_store(path)
    # Long instrument names, two leads, a long path: the widest rows a timeline has.
    store.write_results([track_result(LONG_NAME, 3725.0, "flac", {
        "electric_guitar": (0.97, 0.6, "foreground"), "acoustic_guitar": (0.9, 0.3, "foreground"),
        "drums": (0.9, 0.9, "background")})])
    store.close()
    return str(path)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("track", ["So What.flac", "Extremely Long Song Title.flac"])
def test_show_fits_and_keeps_marks_and_numbers_whole(db: str, columns: int, track: str) -> None:
    result = tagger("show", track, "--db", db, columns=columns)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert widest(result.stdout) <= columns
    bars = [l for l in lines if "│" in l]
    assert bars and all(l.endswith(("│", "│ lead")) for l in bars)
    assert all(l.strip() != "lead" for l in lines)  # never alone on a line
    assert sum(l.endswith(" lead") for l in bars) == 2
    start = next(i for i, l in enumerate(lines) if l.startswith("not present: "))
    for line in lines[start:]:  # whole "name 0.10" items only: none split between lines
        items = line.removeprefix("not present:").strip().rstrip(",").split(", ")
        assert all(ABSENT_ITEM.fullmatch(item) for item in items), line


def test_show_long_path_goes_above_its_details(db: str) -> None:
    lines = tagger("show", "Extremely Long Song Title.flac", "--db", db).stdout.splitlines()
    assert "".join(lines[:2]) == LONG_NAME
    assert lines[2] == "1:02:05  flac  model tagger-1.0"


@pytest.mark.parametrize("columns", [80, 120])
def test_query_table_fits(db: str, columns: int) -> None:
    result = tagger("query", "--status", "all", "--db", db, columns=columns)
    assert result.returncode == 0, result.stderr
    assert widest(result.stdout) <= columns
    folder, header = result.stdout.splitlines()[:2]
    assert folder == "in /music/"  # the folder every track is in, said once
    assert header.split() == ["path", "length", "instrument", "score", "cover", "format"]
    assert "electric_guitar 0.97 60% lead" in result.stdout
    assert "…" not in result.stdout


def write_card(folder: Path, name: str, version: str, **extra: object) -> None:
    fields = dict(classes=list(CLASSES), sample_rate=32000, window_s=5.0, hop_s=5.0,
                  thresholds={c: 0.25 for c in CLASSES}, architecture={"type": "test"})
    ModelCard(name=name, version=version, **{**fields, **extra}).save(folder / f"{name}.json")


@pytest.fixture()
def models_env(tmp_path: Path) -> dict[str, str]:
    """Cards shaped like the shipped ones: per-class figures with counts and the training
    run's own threshold, and long top-level figure names."""
    folder = tmp_path / "models"
    folder.mkdir()
    per_class = {c: {"ap": 0.778282, "auc": 0.875, "precision": 0.75, "recall": 0.62,
                     "f1": 0.68, "threshold": 0.0721, "positives": 163, "negatives": 475}
                 for c in CLASSES}
    write_card(folder, "tagger-fast", "0.3", validation={"mAP": 0.466, "per_class": per_class},
               description="A small model " * 12)
    write_card(folder, "tagger-ensemble-large", "0.10", validation={
        "solo_top1": 0.575, "solo_top1_among_present": 0.594, "solo_clips": 160,
        "single_top1_among_present": 0.555, "mixture_macro_ap": 0.416})
    return {"TAGGER_MODELS_DIR": str(folder), "TAGGER_MODEL": "tagger-fast"}


@pytest.mark.parametrize("columns", [80, 120])
def test_models_list_fits_without_broken_words(models_env: dict, columns: int) -> None:
    result = tagger("models", env=models_env, columns=columns)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert widest(out) <= columns and "…" not in out
    words = set(out.split())
    for word in ("solo_top1_among_present", "single_top1_among_present",
                 "tagger-ensemble-large", "(default)"):
        assert word in words, word
    assert "32 kHz" in out and "5 s / 5 s" in out
    if columns == 120:  # the table; at 80 its words would not fit, so a block per model
        assert out.splitlines()[0].split() == ["model", "classes", "rate", "window/hop",
                                               "validation"]
    else:
        assert out.splitlines()[0].split() == ["tagger-ensemble-large", "0.10"]


def test_models_list_of_the_shipped_cards_is_a_table_at_80_columns() -> None:
    result = tagger("models")
    assert result.returncode == 0, result.stderr
    assert widest(result.stdout) <= 80 and "…" not in result.stdout
    assert result.stdout.split()[:5] == ["model", "classes", "rate", "window/hop", "validation"]


@pytest.mark.parametrize("columns", [80, 120])
def test_models_card_has_one_threshold_and_integer_counts(models_env: dict, columns: int) -> None:
    result = tagger("models", "tagger-fast", env=models_env, columns=columns)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert widest(out) <= columns and "…" not in out
    header = next(l for l in out.splitlines() if l.startswith("class "))
    names = header.split()
    assert sum(n in ("threshold", "thr") for n in names) == 1
    assert len(names) == 9  # class, threshold, ap, auc, precision, recall, f1, positives, negatives
    voice = next(l for l in out.splitlines() if l.startswith("voice "))
    assert voice.split() == ["voice", "0.25", "0.778", "0.875", "0.750", "0.620", "0.680", "163",
                             "475"]
    assert "475.0" not in out and "0.072" not in out  # the training run's threshold is not shown
    if columns == 120:
        assert "precision" in names and "positives" in names
    else:  # short headers, explained below the table
        assert "prec" in names and "pos = positives" in " ".join(out.split())


def test_eta_from_the_pace_so_far() -> None:
    assert format_eta(75) == "1:15" and format_eta(3725) == "1:02:05" and format_eta(0.2) == "0:01"
    assert eta_text(10.0, 0, 100) == "" and eta_text(10.0, 1, 100) == ""  # no pace yet
    assert eta_text(10.0, 10, 100) == "eta 1:30"  # 1 s a track, 90 to go
    assert eta_text(10.0, 100, 100) == ""  # done: nothing left to estimate


@pytest.mark.parametrize("columns", [80, 120])
def test_progress_line_shows_eta_and_fits(columns: int) -> None:
    out = io.StringIO()
    console = Console(file=out, width=columns, force_terminal=True, color_system=None)
    progress = RichProgress(False, console)
    progress.planned(12_345, 3)
    progress.started -= 600.0  # as if the first tracks took ten minutes
    for _ in range(3000):
        progress.track_done("/music/a.mp3", 180.0, None)
    progress.track_done("/music/b [live].mp3", 0.0, "not an audio file")
    line = Console(file=io.StringIO(), width=columns, color_system=None)
    with line.capture() as captured:
        line.print(progress.progress.get_renderable())
    shown = captured.get().rstrip("\n")
    assert "\n" not in shown and len(shown) <= columns
    assert "3001/12345" in shown and "1 error" in shown and "x real time" in shown
    assert re.search(r"eta 3\d:\d\d", shown), shown  # 600 s for 3001 tracks: ~31 min left
    assert "error /music/b [live].mp3: not an audio file" in out.getvalue()
