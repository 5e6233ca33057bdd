"""Discovery on real folders: hidden files, links, loops, unreadable places, odd names."""

import os
from pathlib import Path

import pytest

from tagger.pipeline.discover import Candidate, Problem, discover


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def found(paths: list) -> tuple[list[str], list[Problem]]:
    items = list(discover(paths))
    return [c.path for c in items if isinstance(c, Candidate)], [p for p in items if isinstance(p, Problem)]


def test_walks_audio_files_and_skips_hidden_and_other_extensions(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "one.mp3")
    touch(tmp_path / "a" / "two.FLAC")
    touch(tmp_path / "a" / "cover.jpg")
    touch(tmp_path / ".hidden" / "three.mp3")
    touch(tmp_path / "a" / ".four.mp3")
    paths, problems = found([tmp_path])
    assert sorted(os.path.basename(p) for p in paths) == ["one.mp3", "two.FLAC"]
    assert problems == []


def test_symlink_loop_and_duplicate_links_are_visited_once(tmp_path: Path) -> None:
    touch(tmp_path / "music" / "song.ogg")
    os.symlink(tmp_path / "music", tmp_path / "music" / "loop")
    os.symlink(tmp_path / "music" / "song.ogg", tmp_path / "music" / "alias.ogg")
    paths, _ = found([tmp_path, tmp_path / "music" / "song.ogg"])
    assert paths == [str((tmp_path / "music" / "song.ogg").resolve())]


def test_missing_path_and_dangling_link_are_problems_not_crashes(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere.mp3", tmp_path / "dangling.mp3")
    paths, problems = found([tmp_path / "does-not-exist", tmp_path])
    assert paths == []
    messages = {Path(p.path).name: p.message for p in problems}
    assert messages["does-not-exist"] == "no such file or folder"
    assert "dangling.mp3" in messages


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_folder_is_a_problem(tmp_path: Path) -> None:
    touch(tmp_path / "locked" / "x.mp3")
    touch(tmp_path / "open" / "y.mp3")
    (tmp_path / "locked").chmod(0)
    try:
        paths, problems = found([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [Path(p).name for p in paths] == ["y.mp3"]
    assert problems and problems[0].message == "permission denied"


def test_unicode_and_non_utf8_names(tmp_path: Path) -> None:
    touch(tmp_path / "Café – naïve ♪.mp3")
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9-latin1.flac")
    with open(raw, "wb") as fh:
        fh.write(b"x")
    paths, _ = found([tmp_path])
    assert len(paths) == 2
    assert raw in [os.fsencode(p) for p in paths]


def test_explicit_file_with_any_extension_is_taken(tmp_path: Path) -> None:
    path = touch(tmp_path / "recording.unknownext")
    paths, _ = found([path])
    assert paths == [str(path.resolve())]
