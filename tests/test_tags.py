"""Writing, reading and removing instrument tags in real files of every format.

Files are made by ffmpeg and dressed with mutagen (cover art, multi-value artists, a
MusicBrainz id, an unknown ID3 frame, an ID3v1 tag, a user value in INSTRUMENTS); checks read
them back with plain mutagen and ffmpeg, the way other tools would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mutagen.id3 import ID3
from tags_support import (
    MODEL, VARIANTS, copy_library, decoded, joined, make_library, other_tags, packets, raw_values,
    store_for, track_ids,
)

from tagger.tags import TagError, read_fields, tag_tracks, update_file
from tagger.tags.files import remove_stale_temps

PRESENT = ["bass", "drums", "voice"]
LEAD = ["bass", "voice"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_library(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def lib(pristine: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    return copy_library(pristine, tmp_path / "music")


@pytest.fixture(scope="module")
def tagged_once(pristine: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """Every variant tagged through the store: (before copies, after files, outcomes)."""
    root = tmp_path_factory.mktemp("tagged")
    files = copy_library(pristine, root / "music")
    store = store_for(root / "t.db", list(files.values()))
    outcomes = {Path(o.path).name: o for o in tag_tracks(store, track_ids(store))}
    store.close()
    return files, outcomes


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_fields_read_back_as_beets_and_picard_see_them(tagged_once, variant: str) -> None:
    files, outcomes = tagged_once
    path = files[variant]
    outcome = outcomes[path.name]
    assert outcome.status == "changed", outcome.error
    assert {c.field: c.action for c in outcome.changes} == {
        "INSTRUMENTS": "change", "INSTRUMENTS_LEAD": "add", "INSTRUMENTS_MODEL": "add"}
    assert raw_values(path, variant, "INSTRUMENTS") == joined(PRESENT)
    assert raw_values(path, variant, "INSTRUMENTS_LEAD") == joined(LEAD)
    assert raw_values(path, variant, "INSTRUMENTS_MODEL") == [MODEL]
    assert read_fields(str(path)).values == {
        "INSTRUMENTS": PRESENT, "INSTRUMENTS_LEAD": LEAD, "INSTRUMENTS_MODEL": [MODEL]}


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_audio_other_tags_and_cover_are_untouched(pristine, tagged_once, variant: str) -> None:
    before, after = pristine[variant], tagged_once[0][variant]
    assert decoded(after) == decoded(before)
    assert packets(after) == packets(before)
    assert other_tags(after, variant) == other_tags(before, variant)


@pytest.mark.parametrize("variant", ["mp3v23", "mp3v24"])
def test_mp3_keeps_id3_version_id3v1_and_the_bytes_after_the_tag(pristine, tagged_once,
                                                                  variant: str) -> None:
    before, after = pristine[variant].read_bytes(), tagged_once[0][variant].read_bytes()
    assert after[3] == before[3]  # ID3v2 major version byte: 3 stays 3, 4 stays 4
    assert ID3(tagged_once[0][variant], translate=False).version[:2] == (2, before[3])
    old_end, new_end = ID3(pristine[variant]).size, ID3(tagged_once[0][variant]).size
    assert after[new_end:] == before[old_end:]  # frames + ID3v1, byte for byte
    assert after[-128:-125] == b"TAG"


def test_second_run_changes_nothing(lib, tmp_path: Path) -> None:
    store = store_for(tmp_path / "t.db", list(lib.values()))
    assert {o.status for o in tag_tracks(store, track_ids(store))} == {"changed"}
    stamps = {p: p.stat().st_mtime_ns for p in lib.values()}
    outcomes = list(tag_tracks(store, track_ids(store)))
    assert {o.status for o in outcomes} == {"unchanged"}
    assert {p: p.stat().st_mtime_ns for p in lib.values()} == stamps


def test_store_follows_the_new_size_and_mtime(lib, tmp_path: Path) -> None:
    """The scan's skip test (size + mtime_ns + model) must still match after a write."""
    from tagger.pipeline.scanning import plan

    store = store_for(tmp_path / "t.db", list(lib.values()))
    list(tag_tracks(store, track_ids(store)))
    for path, size, mtime_ns in store.conn.execute("SELECT path, size, mtime_ns FROM tracks"):
        st = os.stat(path)
        assert (size, mtime_ns) == (st.st_size, st.st_mtime_ns)
    to_scan, skipped, problems = plan([str(tmp_path / "music")], store, MODEL, force=False,
                                      on_problem=lambda *a: None)
    assert (to_scan, skipped, problems) == ([], len(lib), [])


@pytest.mark.slow
def test_remove_restores_what_was_there(pristine, lib, tmp_path: Path) -> None:
    store = store_for(tmp_path / "t.db", list(lib.values()))
    list(tag_tracks(store, track_ids(store)))
    list(tag_tracks(store, track_ids(store)))  # a second write must not replace the backup
    outcomes = list(tag_tracks(store, track_ids(store), remove=True))
    assert all(o.status == "changed" for o in outcomes), [o.error for o in outcomes]
    for variant, path in lib.items():
        assert raw_values(path, variant, "INSTRUMENTS") == ["Piano"]
        assert raw_values(path, variant, "INSTRUMENTS_LEAD") == []
        assert raw_values(path, variant, "INSTRUMENTS_MODEL") == []
        assert other_tags(path, variant) == other_tags(pristine[variant], variant)
        assert packets(path) == packets(pristine[variant])
    assert store.conn.execute("SELECT COUNT(*) FROM tag_backups").fetchone()[0] == 0
    # Removing again: nothing of ours left, nothing to do.
    assert {o.status for o in tag_tracks(store, track_ids(store), remove=True)} == {"unchanged"}


def test_remove_without_backup_just_deletes(lib, tmp_path: Path) -> None:
    path = lib["flac"]
    update_file(str(path), values={"INSTRUMENTS": ["cello"], "INSTRUMENTS_MODEL": ["x-1"]})
    store = store_for(tmp_path / "t.db", [path])
    [outcome] = tag_tracks(store, track_ids(store), remove=True)
    assert outcome.status == "changed"
    assert raw_values(path, "flac", "INSTRUMENTS") == []


def test_dry_run_touches_nothing(lib, tmp_path: Path) -> None:
    store = store_for(tmp_path / "t.db", list(lib.values()))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()}
    outcomes = list(tag_tracks(store, track_ids(store), dry_run=True))
    assert all(o.status == "changed" and o.dry_run for o in outcomes)
    assert {c.field: (c.old, c.new) for c in outcomes[0].changes} == {
        "INSTRUMENTS": (["Piano"], PRESENT), "INSTRUMENTS_LEAD": ([], LEAD),
        "INSTRUMENTS_MODEL": ([], [MODEL])}
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()} == before
    assert store.conn.execute("SELECT COUNT(*) FROM tag_backups").fetchone()[0] == 0
    assert sorted(os.listdir(tmp_path / "music")) == sorted(p.name for p in lib.values())


def test_problem_files_are_error_outcomes_and_the_run_goes_on(lib, tmp_path: Path) -> None:
    readonly, changed, vanished, broken = lib["mp3v24"], lib["flac"], lib["ogg"], lib["wav"]
    store = store_for(tmp_path / "t.db", list(lib.values()))
    os.chmod(readonly, 0o444)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    vanished.unlink()
    size = broken.stat().st_size
    broken.write_bytes(b"\x00" * size)  # same size, so only the parse can fail
    os.utime(broken, ns=(0, _stored_mtime(store, broken)))
    outcomes = {Path(o.path).name: o for o in tag_tracks(store, track_ids(store))}
    errors = {name: o.error for name, o in outcomes.items() if o.failed}
    assert errors.keys() == {readonly.name, changed.name, vanished.name, broken.name}
    assert "read-only" in errors[readonly.name]
    assert "changed since it was scanned" in errors[changed.name]
    assert "not found" in errors[vanished.name]
    assert "wav" in errors[broken.name] or "format" in errors[broken.name]
    assert all("\n" not in e for e in errors.values())
    ok = [o for o in outcomes.values() if not o.failed]
    assert len(ok) == len(lib) - 4 and all(o.status == "changed" for o in ok)
    assert [n for n in os.listdir(tmp_path / "music") if n.startswith(".")] == []


def _stored_mtime(store, path: Path) -> int:
    row = store.conn.execute("SELECT mtime_ns FROM tracks WHERE path = ?",
                             (os.path.realpath(path),)).fetchone()
    return row[0]


def test_failed_scans_are_skipped(lib, tmp_path: Path) -> None:
    store = store_for(tmp_path / "t.db", [lib["flac"]], status="error")
    [outcome] = tag_tracks(store, track_ids(store))
    assert outcome.status == "skipped" and not outcome.failed


def test_no_instruments_means_no_instrument_fields(lib, tmp_path: Path) -> None:
    path = lib["m4a"]
    store = store_for(tmp_path / "t.db", [path])
    store.conn.execute("DELETE FROM track_instruments")
    [outcome] = tag_tracks(store, track_ids(store))
    assert outcome.status == "changed"
    assert raw_values(path, "m4a", "INSTRUMENTS") == []  # "Piano" replaced by nothing...
    assert raw_values(path, "m4a", "INSTRUMENTS_MODEL") == [MODEL]  # ...but analysed


def test_stale_temporary_files_of_dead_processes_are_cleared(tmp_path: Path) -> None:
    dead = tmp_path / ".song.flac.tagger-999999999-abcd1234.tmp"
    mine = tmp_path / f".song.flac.tagger-{os.getpid()}-abcd1234.tmp"
    other = tmp_path / ".song.flac.partial"
    for p in (dead, mine, other):
        p.write_bytes(b"x")
    assert remove_stale_temps(str(tmp_path)) == 1
    assert not dead.exists() and mine.exists() and other.exists()


def test_mode_is_kept(lib) -> None:
    path = lib["opus"]
    os.chmod(path, 0o640)
    update_file(str(path), values={"INSTRUMENTS": ["synth"]})
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_audio_check_sees_a_single_changed_byte(pristine, tmp_path: Path, variant: str) -> None:
    """The verifier that guards every write: tag changes pass, one flipped audio byte fails."""
    from tagger.tags.formats import detect
    from tagger.tags.payload import same_payload

    src = pristine[variant]
    container = detect(str(src))
    retagged = tmp_path / f"retagged{src.suffix}"
    update = tmp_path / src.name
    update.write_bytes(src.read_bytes())
    update_file(str(update), values={"INSTRUMENTS": ["organ"] * 50})  # a much bigger tag
    retagged.write_bytes(update.read_bytes())
    spans = container.audio_spans(str(src))
    assert sum(n for _s, n in spans) > 1000
    assert same_payload(str(src), spans, str(retagged), container.audio_spans(str(retagged)))
    new_spans = container.audio_spans(str(retagged))
    start, length = new_spans[len(new_spans) // 2]
    data = bytearray(retagged.read_bytes())
    data[start + length // 2] ^= 0x01
    retagged.write_bytes(bytes(data))
    assert not same_payload(str(src), spans, str(retagged), container.audio_spans(str(retagged)))


def _v23_tag(frames: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(fid + len(data).to_bytes(4, "big") + b"\x00\x00" + data for fid, data in frames)
    body += b"\x00" * 64
    size = len(body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + body


def test_id3_tags_mutagen_would_rewrite_are_left_alone(pristine, tmp_path: Path) -> None:
    """Two TPE1 frames would be merged into one by mutagen: refuse, and say so."""
    audio = pristine["mp3v24"].read_bytes()[ID3(pristine["mp3v24"]).size:]
    path = tmp_path / "dupes.mp3"
    path.write_bytes(_v23_tag([(b"TIT2", b"\x00Song"), (b"TPE1", b"\x00Ann"),
                               (b"TPE1", b"\x00Bob")]) + audio)
    before = path.read_bytes()
    with pytest.raises(TagError, match="duplicate or damaged frames.*TPE1"):
        update_file(str(path), values={"INSTRUMENTS": ["bass"]})
    assert path.read_bytes() == before
    clean = tmp_path / "clean.mp3"
    clean.write_bytes(_v23_tag([(b"TIT2", b"\x00Song"), (b"TPE1", b"\x00Ann")]) + audio)
    assert update_file(str(clean), values={"INSTRUMENTS": ["bass"]}).written
    assert clean.read_bytes()[3] == 3 and clean.read_bytes().endswith(audio)
    # UTF-8 text is not valid in ID3v2.3; mutagen writes it back as UTF-16, same text.
    utf8 = tmp_path / "utf8.mp3"
    utf8.write_bytes(_v23_tag([(b"TIT2", b"\x03Caf\xc3\xa9")]) + audio)
    assert update_file(str(utf8), values={"INSTRUMENTS": ["bass"]}).written
    assert ID3(utf8)["TIT2"].text == ["Café"]


def test_tracks_can_be_ids_rows_scan_results_or_paths(lib, tmp_path: Path) -> None:
    from tagger.store.db import TrackResult

    store = store_for(tmp_path / "t.db", [lib["ogg"], lib["wma"], lib["aiff"], lib["flac"]])
    rows = {Path(r["path"]).name: r for r in store.iter_tracks()}
    result = TrackResult(path=os.path.realpath(lib["aiff"]), size=0, mtime_ns=0, model=MODEL)
    refs = [rows[lib["ogg"].name], rows[lib["wma"].name]["id"], result, str(lib["flac"]),
            rows[lib["ogg"].name], tmp_path / "unknown.mp3"]  # a repeat is done once
    outcomes = list(tag_tracks(store, refs))
    assert [(Path(o.path).name, o.status) for o in outcomes] == [
        (lib["ogg"].name, "changed"), (lib["wma"].name, "changed"), (lib["aiff"].name, "changed"),
        (lib["flac"].name, "changed"), ("unknown.mp3", "error")]


def test_m4a_with_moov_before_mdat_keeps_its_chunk_offsets_right(pristine, tmp_path: Path) -> None:
    """A growing tag in a front ``moov`` pushes ``mdat`` back: the chunk offsets must follow."""
    import subprocess

    path = tmp_path / "faststart.m4a"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(pristine["m4a"]),
                    "-map", "0:a", "-c", "copy", "-movflags", "+faststart", str(path)], check=True)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    before_packets, before_pcm = packets(path), decoded(path)
    update_file(str(path), values={"INSTRUMENTS": ["organ"] * 400})  # far beyond any padding
    assert path.read_bytes().index(b"mdat") > data.index(b"mdat")
    assert packets(path) == before_packets and decoded(path) == before_pcm
