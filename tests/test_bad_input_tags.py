"""Issue 11, the tag side: nothing a user owns is lost, nothing hangs.

Real files (ffmpeg), real tag writes read back with plain mutagen, a real SQLite store, the
real CLI (in-process through Typer, or as a subprocess where a kill or a disk limit is the
point), and the real labeling server over a socket.
"""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest
from test_tags_support import raw_values, store_for
from typer.testing import CliRunner

from audiofiles import tone, write_audio
from tagger.cli.app import app

NO_TAG_KIND = {".mp3": "mp3v24", ".wav": "wav", ".aiff": "aiff"}  # raw_values variant per ext


def tag_cli(db: Path, *args: str):
    return CliRunner().invoke(app, ["tag", "--db", str(db), *args])


def untagged(folder: Path, ext: str, name: str = "plain") -> Path:
    """A real file of ``ext`` holding no ID3 tag at all (ffmpeg's is deleted by mutagen)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_audio(folder / f"{name}{ext}", tone(1.0, 22050), 22050)
    if mutagen.File(path).tags is not None:
        mutagen.File(path).delete()  # MP3: ID3v2 and v1; WAV/AIFF: the "id3 " chunk
    assert mutagen.File(path).tags is None, path
    return path


@pytest.mark.parametrize("ext", sorted(NO_TAG_KIND))
def test_remove_gives_back_a_file_that_had_no_tag_byte_for_byte(tmp_path: Path, ext: str) -> None:
    path = untagged(tmp_path / "music", ext)
    original = path.read_bytes()
    db = tmp_path / "t.db"
    store_for(db, [path]).close()
    done = tag_cli(db, "--all")
    assert done.exit_code == 0, done.output
    assert raw_values(path, NO_TAG_KIND[ext], "INSTRUMENTS") == ["bass", "drums", "voice"]
    undone = tag_cli(db, "--all", "--remove")
    assert undone.exit_code == 0, undone.output
    assert mutagen.File(path).tags is None  # no empty ID3 tag left behind...
    assert path.read_bytes() == original  # ...and no padding: the very bytes it had


def test_remove_all_skips_error_rows_like_tag_all(tmp_path: Path) -> None:
    good = untagged(tmp_path / "music", ".mp3", "good")
    bad = []
    for i in range(3):
        junk = tmp_path / "music" / f"junk{i}.mp3"
        junk.write_text("not audio at all\n")
        bad.append(junk)
    db = tmp_path / "t.db"
    store_for(db, [good]).close()
    store_for(db, bad, status="error").close()
    junk_bytes = [p.read_bytes() for p in bad]
    for args in (["--all"], ["--all", "--remove"]):
        done = tag_cli(db, *args)
        assert done.exit_code == 0, (args, done.output)
        assert "3 skipped (scan failed)" in done.output, (args, done.output)
        assert "failed" not in done.output.replace("(scan failed)", ""), (args, done.output)
    assert [p.read_bytes() for p in bad] == junk_bytes
    tags = mutagen.File(good).tags  # the good one was tagged, then restored
    assert tags is None or "TXXX:INSTRUMENTS" not in tags
