"""Tags written while a library is scanned, through the library API (``on_written``)."""

from __future__ import annotations

import os
from pathlib import Path

import mutagen

from audiofiles import tone, write_audio
from tagger import ScanOptions, scan
from tagger.store import Store
from tagger.tags import TagWriter


def test_a_scan_tags_what_it_stores_and_reports_a_file_it_cannot_write(
        tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    writable = write_audio(lib / "a.flac", tone(3.0), 44100, title="Kept")
    locked = write_audio(lib / "b.flac", tone(3.0), 44100)
    os.chmod(locked, 0o444)
    failures = []
    with Store(tmp_path / "t.db") as store:
        writer = TagWriter(store, on_error=failures.append)
        report = scan([str(lib)], store=store, on_written=writer,
                      options=ScanOptions(model=str(tiny_model), workers=0))
    assert report.scanned == 2 and (writer.written, writer.failed) == (1, 1)
    assert [Path(f.path).name for f in failures] == ["b.flac"]
    assert "read-only" in failures[0].error
    tags = mutagen.File(writable)
    assert tags["INSTRUMENTS_MODEL"] == ["tiny-test-0"] and tags["title"] == ["Kept"]
    assert "INSTRUMENTS_MODEL" not in mutagen.File(locked)
