"""``tagger tag`` as a user runs it: selection, --dry-run, --read, --remove, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tags_support import copy_library, joined, make_library, raw_values, store_for
from typer.testing import CliRunner

from tagger.cli.app import app


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    lib = make_library(tmp_path_factory.mktemp("pristine"))
    return {v: lib[v] for v in ("mp3v24", "flac", "m4a")}


@pytest.fixture
def lib(pristine, tmp_path: Path) -> dict[str, Path]:
    files = copy_library(pristine, tmp_path / "music")
    store_for(tmp_path / "t.db", list(files.values())).close()
    return files


def tag(tmp_path: Path, *args: str):
    return CliRunner().invoke(app, ["tag", "--db", str(tmp_path / "t.db"), *args])


def test_tag_a_folder(lib, tmp_path: Path) -> None:
    result = tag(tmp_path, str(tmp_path / "music"))
    assert result.exit_code == 0, result.output
    assert "3 file(s) tagged, 0 already up to date" in result.output
    assert raw_values(lib["m4a"], "m4a", "INSTRUMENTS_LEAD") == joined(["bass", "voice"])
    again = tag(tmp_path, str(tmp_path / "music"), "-q")
    assert again.exit_code == 0 and again.output == ""


def test_dry_run_prints_changes_and_touches_nothing(lib, tmp_path: Path) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()}
    result = tag(tmp_path, str(lib["flac"]), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert lines[0].endswith("track_flac.flac")
    assert "~ INSTRUMENTS: Piano → bass; drums; voice" in lines
    assert "+ INSTRUMENTS_LEAD: bass; voice" in lines
    assert "+ INSTRUMENTS_MODEL: tagger-as-0.1" in lines
    assert "1 file(s) to tag, 0 already up to date (dry run: nothing written)" in lines
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()} == before


def test_read_shows_the_fields_as_stored(lib, tmp_path: Path) -> None:
    tag(tmp_path, str(lib["mp3v24"]))
    result = tag(tmp_path, "--read", str(lib["mp3v24"]))
    assert result.exit_code == 0, result.output
    assert "TXXX:INSTRUMENTS_LEAD" in result.output and "bass; voice" in result.output
    as_json = json.loads(tag(tmp_path, "--read", str(lib["m4a"]), "--json").output)
    assert as_json["fields"]["INSTRUMENTS"] == {
        "key": "----:com.apple.iTunes:INSTRUMENTS", "values": ["Piano"]}


def test_remove_restores(lib, tmp_path: Path) -> None:
    tag(tmp_path, str(tmp_path / "music"))
    result = tag(tmp_path, str(tmp_path / "music"), "--remove")
    assert result.exit_code == 0, result.output
    assert "3 file(s) restored" in result.output
    for variant, path in lib.items():
        assert raw_values(path, variant, "INSTRUMENTS") == ["Piano"]
        assert raw_values(path, variant, "INSTRUMENTS_MODEL") == []


def test_query_filters_select_tracks(lib, tmp_path: Path) -> None:
    assert "0 file(s) tagged" in tag(tmp_path, "--has", "flute").output  # scored, not present
    result = tag(tmp_path, "--has", "vocals", "--format", "flac", "--jsonl")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["track_flac.flac"]
    assert rows[0]["status"] == "changed"
    unknown = tag(tmp_path, "--has", "kazoo")
    assert unknown.exit_code == 2 and "unknown instrument" in unknown.output
    before = {p: p.read_bytes() for p in lib.values()}
    for empty in (["--has", ""], ["--any", ","], ["--not", " "], ["--format", ","]):
        # Dropped, an empty name would leave no condition: every track would be tagged.
        result = tag(tmp_path, *empty)
        assert result.exit_code == 2 and "an empty name" in result.output, empty
    assert {p: p.read_bytes() for p in lib.values()} == before


def test_tag_takes_the_same_filters_as_query(lib, tmp_path: Path) -> None:
    """One option group for both commands: comma-separated formats, --path-contains."""
    result = tag(tmp_path, "--has", "vocals", "--format", "flac,m4a", "--path-contains",
                 "TRACK_M4", "--jsonl")
    assert result.exit_code == 0, result.output
    assert [Path(json.loads(line)["path"]).name for line in result.output.splitlines()] == [
        "track_m4a.m4a"]
    def option_rows(command: str) -> dict[str, str]:
        shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"}).output
        rows = (" ".join(line.strip("│ ").split()) for line in shown.splitlines())
        return {row.split()[0]: row for row in rows if row.startswith("--")}

    query, tag_help = option_rows("query"), option_rows("tag")
    for option in ("--has", "--any", "--not", "--min-score", "--min-coverage", "--role",
                   "--path", "--path-contains", "--format"):
        assert option in query and query[option] == tag_help.get(option), option


def test_failures_exit_1_with_a_summary_and_the_rest_is_tagged(lib, tmp_path: Path) -> None:
    os.chmod(lib["flac"], 0o444)
    result = tag(tmp_path, str(tmp_path / "music"), str(tmp_path / "nowhere.mp3"))
    assert result.exit_code == 1
    assert "nowhere.mp3: not in the store" in result.output
    assert "track_flac.flac: file is read-only (no write permission)" in result.output
    assert "2 file(s) tagged, 0 already up to date, 2 failed" in result.output
    assert raw_values(lib["m4a"], "m4a", "INSTRUMENTS_MODEL") == ["tagger-as-0.1"]


def test_usage_errors_exit_2(lib, tmp_path: Path) -> None:
    assert tag(tmp_path).exit_code == 2  # no tracks named
    assert tag(tmp_path, "--read", str(lib["flac"]), "--remove").exit_code == 2
    bad = tag(tmp_path, "--read", str(tmp_path / "t.db"))
    assert bad.exit_code == 1 and "not a format" in bad.output
