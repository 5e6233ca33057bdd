"""Our tags as other programs read them: mutagen, beets' mediafile, ffprobe, exiftool.

Every format of tests/tags_support's library (existing tags, cover art, a user value in
INSTRUMENTS) is tagged through the store with each layout, then read back by each reader
(tests/tag_readers.py). The cells asserted here are the README's reader x format table; a
reader that is not installed skips with the reason (the Makefile installs them all).
Also: files tagged the old way (a list) read back and are rewritten in the new layout,
``--remove`` still restores what was there first, and ``--id3-version`` sets new ID3 tags'.
"""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest
from tag_readers import READERS, exiftool_reads, missing_reader, sees
from tags_support import (
    copy_library, joined, make_library, other_tags, packets, raw_values, store_for, track_ids,
)
from typer.testing import CliRunner

from tagger.cli.app import app
from tagger.tags import TagOptions, read_fields, tag_tracks

PRESENT = ["bass", "drums", "voice"]  # what store_for says (tags_support.INSTRUMENTS)
EXT = {"mp3v24": ".mp3", "mp3v23": ".mp3", "flac": ".flac", "ogg": ".ogg", "opus": ".opus",
       "m4a": ".m4a", "wav": ".wav", "aiff": ".aiff", "wma": ".wma"}
# What each reader shows of INSTRUMENTS, per layout; everything not listed: "all".
# ffprobe: a WAV's RIFF INFO list (ffmpeg writes one) wins over its ID3 chunk ("Discarding
# ID3 tags because more suitable tags were found"); exiftool lists no ASF attribute it does
# not know (only -v dumps them).
JOINED_GAPS = {("ffprobe", "wav"): "-", ("exiftool", "wma"): "-"}
LIST_GAPS = {**JOINED_GAPS,
             **{("ffprobe", v): "first" for v in ("mp3v24", "mp3v23", "m4a", "aiff", "wma")},
             **{("exiftool", v): "first" for v in ("mp3v24", "mp3v23", "wav", "aiff")}}


def expected(layout: str, reader: str, variant: str) -> str:
    """The table cell (see tag_readers.sees) for a reader on a format in a layout."""
    gaps = JOINED_GAPS if layout == "joined" else LIST_GAPS
    if (reader, variant) in gaps:
        return gaps[reader, variant]
    if reader == "mediafile" or (layout == "list" and reader == "mutagen"):
        return "all (list)"  # the beets plugin's fields split a joined value again
    if layout == "list" and reader == "exiftool" and EXT[variant] in (".flac", ".ogg", ".opus"):
        return "all (list)"  # repeated Vorbis keys, one line each (with -a)
    return "all"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_library(tmp_path_factory.mktemp("pristine"))


def tagged(pristine: dict[str, Path], root: Path, options: TagOptions) -> dict[str, Path]:
    files = copy_library(pristine, root / "music")
    store = store_for(root / "t.db", list(files.values()))
    outcomes = list(tag_tracks(store, track_ids(store), options=options))
    store.close()
    assert all(o.status == "changed" for o in outcomes), [o.error for o in outcomes]
    return files


@pytest.fixture(scope="module")
def by_layout(pristine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    files = {layout: tagged(pristine, tmp_path_factory.mktemp(layout),
                            TagOptions(multi_value=layout))  # type: ignore[arg-type]
             for layout in ("joined", "list")}
    if not missing_reader("exiftool"):
        exiftool_reads([path for layout in files.values() for path in layout.values()])
    return files


@pytest.mark.parametrize("layout", ["joined", "list"])
@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("variant", list(EXT))
def test_what_each_reader_shows(by_layout, layout: str, reader: str, variant: str) -> None:
    reason = missing_reader(reader)
    if reason:
        pytest.skip(reason)
    path = by_layout[layout][variant]
    shown = READERS[reader][0](path, "INSTRUMENTS")
    want = expected(layout, reader, variant)
    cell = sees(PRESENT, shown)
    assert cell == want, shown
    if layout == "joined" and want != "-" and reader != "mediafile":
        assert shown == ["; ".join(PRESENT)]


def test_model_field_is_one_value_everywhere(by_layout) -> None:
    for variant, path in by_layout["joined"].items():
        for reader, (read, _program) in READERS.items():
            if missing_reader(reader) or (reader, variant) in JOINED_GAPS:
                continue
            assert read(path, "INSTRUMENTS_MODEL") == ["tagger-as-0.1"], (reader, variant)


@pytest.mark.parametrize("variant", list(EXT))
def test_files_tagged_as_lists_read_back_and_move_to_the_new_layout(
        pristine, by_layout, tmp_path: Path, variant: str) -> None:
    old = by_layout["list"][variant]
    assert read_fields(str(old)).values["INSTRUMENTS"] == PRESENT
    files = copy_library({variant: pristine[variant]}, tmp_path / "music")
    path = files[variant]
    store = store_for(tmp_path / "t.db", [path])
    [first] = tag_tracks(store, track_ids(store), options=TagOptions(multi_value="list"))
    assert first.status == "changed"
    assert raw_values(path, variant, "INSTRUMENTS") == PRESENT
    [again] = tag_tracks(store, track_ids(store), options=TagOptions(multi_value="joined"))
    assert again.status == "changed"
    assert [(c.field, c.old, c.new) for c in again.changes] == [
        ("INSTRUMENTS", PRESENT, PRESENT),
        ("INSTRUMENTS_LEAD", ["bass", "voice"], ["bass", "voice"])]
    assert raw_values(path, variant, "INSTRUMENTS") == joined(PRESENT)
    [same] = tag_tracks(store, track_ids(store))  # the default keeps the layout it has now
    assert same.status == "unchanged"
    [removed] = tag_tracks(store, track_ids(store), remove=True)
    assert removed.status == "changed", removed.error
    assert raw_values(path, variant, "INSTRUMENTS") == ["Piano"]  # the user's value, as it was
    assert other_tags(path, variant) == other_tags(pristine[variant], variant)
    assert packets(path) == packets(pristine[variant])
    store.close()


def test_id3_version_applies_to_new_tags_only(pristine, tmp_path: Path) -> None:
    from test_bad_input_tags import untagged

    fresh = [untagged(tmp_path / "music", ext) for ext in (".mp3", ".wav", ".aiff")]
    old = copy_library({"mp3v24": pristine["mp3v24"]}, tmp_path / "music")["mp3v24"]
    store_for(tmp_path / "t.db", [*fresh, old]).close()
    result = CliRunner().invoke(app, ["tag", "--db", str(tmp_path / "t.db"), "--all",
                                      "--id3-version", "2.3", "--multi-value", "list"])
    assert result.exit_code == 0, result.output
    for path in fresh:
        tags = mutagen.File(path).tags
        assert tags.version[:2] == (2, 3), path
        assert list(tags["TXXX:INSTRUMENTS"].text) == PRESENT  # NUL-separated, as in v2.4
    assert mutagen.File(old).tags.version[:2] == (2, 4)  # an existing tag keeps its version


@pytest.mark.parametrize("args, message", [
    (["--multi-value", "both"], "multi-value layout must be joined or list"),
    (["--id3-version", "2.2"], "ID3 version must be 2.3 or 2.4"),
    (["--separator", " "], "the separator needs a visible character"),
    (["--separator", "_"], "the separator '_' can be part of a value"),  # acoustic_guitar
    (["--separator", " and "], "the separator ' and ' can be part of a value"),
])
def test_bad_layout_options_are_one_line_usage_errors(tmp_path: Path, args, message) -> None:
    result = CliRunner().invoke(app, ["tag", "--db", str(tmp_path / "t.db"), "--all", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output


def test_dry_run_names_a_layout_change(pristine, tmp_path: Path) -> None:
    files = copy_library({"flac": pristine["flac"]}, tmp_path / "music")
    store_for(tmp_path / "t.db", list(files.values())).close()
    runner, db = CliRunner(), str(tmp_path / "t.db")
    assert runner.invoke(app, ["tag", "--db", db, "--all", "--multi-value", "list"]).exit_code == 0
    result = runner.invoke(app, ["tag", "--db", db, "--all", "--dry-run", "--multi-value", "joined"])
    assert result.exit_code == 0, result.output
    assert ("  ~ INSTRUMENTS: bass; drums; voice (same values, rewritten in the new layout)"
            in result.output.splitlines())


def test_a_plain_re_tag_keeps_each_files_layout(pristine, tmp_path: Path) -> None:
    """Without --multi-value a file keeps the layout it has: a library tagged as lists is not
    flipped to joined by the next `tagger tag` (nor the reverse)."""
    files = copy_library({"flac": pristine["flac"], "mp3v24": pristine["mp3v24"]},
                         tmp_path / "music")
    store_for(tmp_path / "t.db", list(files.values())).close()
    runner, db = CliRunner(), str(tmp_path / "t.db")
    assert runner.invoke(app, ["tag", "--db", db, "--all", "--multi-value", "list"]).exit_code == 0
    as_lists = {v: raw_values(p, v, "INSTRUMENTS") for v, p in files.items()}
    assert all(len(values) == 3 for values in as_lists.values()), as_lists
    result = runner.invoke(app, ["tag", "--db", db, "--all", "--dry-run"])
    assert result.exit_code == 0 and "~ INSTRUMENTS" not in result.output, result.output
    assert runner.invoke(app, ["tag", "--db", db, "--all"]).exit_code == 0
    assert {v: raw_values(p, v, "INSTRUMENTS") for v, p in files.items()} == as_lists
