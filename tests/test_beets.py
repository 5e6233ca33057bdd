"""The beets plugin (``plugins: instruments``) with real beets, on real files of every format.

Each test runs ``python -m beets`` (the beets installed beside tagger) with a temporary
BEETSDIR holding config.yaml and library.db, over files ffmpeg encodes here:

- a copy tagged by tagger's writer imports with ``beet import -A`` and shows our fields in
  ``beet ls`` / ``beet info``; ``instruments:saxophone`` queries the list;
- ``beet instruments`` on untagged items analyses them with the default model, stores the
  fields in beets' database, leaves the files alone without ``-w`` and tags them with it,
  skips unchanged files on a rerun, and reports a damaged file in one line and goes on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real beets runs and model loads: seconds a test
pytest.importorskip("beets", reason="beets is not installed (pip install -e '.[test]')")

from audiofiles import FORMATS, tone, write_audio  # noqa: E402
from library_store import track_result  # noqa: E402
from tags_support import joined, packets, raw_values  # noqa: E402

from tagger.store import Store  # noqa: E402
from tagger.tags import desired_fields, tag_tracks  # noqa: E402

VARIANT = {".mp3": "mp3v24", ".wav": "wav", ".aiff": "aiff", ".flac": "flac", ".ogg": "ogg",
           ".opus": "opus", ".m4a": "m4a", ".wma": "wma"}  # raw_values' name per extension
PRESENT = {"bass": (0.9, 0.8, "background"), "piano": (0.8, 0.6, "background"),
           "saxophone": (0.95, 0.5, "foreground")}


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of a tone per format, with a title and artist beets imports."""
    folder = tmp_path_factory.mktemp("pristine")
    for i, ext in enumerate(FORMATS):
        write_audio(folder / f"track{ext}", tone(3.0, freq=220.0 * (i + 1)), 44100,
                    title=f"Tone {ext[1:]}", artist="Tagger Tests")
    return folder


def copy_of(music: Path, dst: Path) -> Path:
    shutil.copytree(music, dst)
    return dst


def beets_env(tmp: Path, music: Path, *extra: str) -> dict[str, str]:
    """A BEETSDIR with our plugin (and beets' info plugin) over ``music``, nothing copied."""
    beetsdir = tmp / "beetsdir"
    beetsdir.mkdir(exist_ok=True)
    (beetsdir / "config.yaml").write_text(
        f"directory: {music}\nlibrary: {beetsdir / 'library.db'}\n"
        "plugins: instruments info\nimport:\n  copy: no\n  write: no\n  quiet: yes\n"
        f"instruments:\n  db: {tmp / 'tagger.db'}\n" + "".join(extra))
    return {**os.environ, "BEETSDIR": str(beetsdir), "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}


def beet(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "beets", *args], env=env, text=True,
                          capture_output=True, timeout=300)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def listing(env: dict[str, str], fmt: str, *query: str) -> dict[str, str]:
    """``beet ls -f`` as {file name: formatted line}."""
    out = beet(env, "ls", "-f", f"$path|{fmt}", *query).stdout
    return {Path(line.split("|", 1)[0]).name: line.split("|", 1)[1]
            for line in out.splitlines() if "|" in line}


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if not p.name.startswith(".")}


def tag_with_tagger(folder: Path, db: Path) -> None:
    """Store PRESENT for every file (as scanned, real size and mtime), then tag them."""
    store = Store(db)
    results = []
    for path in sorted(folder.iterdir()):
        r = track_result(str(path), 3.0, path.suffix[1:], PRESENT)
        st = path.stat()
        r.size, r.mtime_ns = st.st_size, st.st_mtime_ns
        results.append(r)
    store.write_results(results)
    ids = [row[0] for row in store.conn.execute("SELECT id FROM tracks")]
    assert all(o.status == "changed" for o in tag_tracks(store, ids))
    store.close()


def test_beets_imports_our_tags_as_lists_and_queries_them(music: Path, tmp_path: Path) -> None:
    lib = copy_of(music, tmp_path / "music")
    tag_with_tagger(lib, tmp_path / "tagged.db")
    env = beets_env(tmp_path, lib)
    beet(env, "import", "-A", str(lib))
    names = {f"track{ext}" for ext in FORMATS}
    shown = listing(env, "$instruments|$instruments_lead|$instruments_model")
    assert shown == {n: "bass; piano; saxophone|saxophone|tagger-1.0" for n in names}
    assert set(listing(env, "$title", "instruments:saxophone")) == names
    assert set(listing(env, "$title", "instruments:sax")) == names  # substring, as beets does
    assert listing(env, "$title", "instruments:cello") == {}
    assert set(listing(env, "$title", "instruments_lead:saxophone")) == names
    info = beet(env, "info", str(lib / "track.opus")).stdout
    assert "instruments: bass; piano; saxophone" in info
    assert "instruments_model: tagger-1.0" in info
    # `beet write` of a changed list goes through the plugin's media fields: tagger's layout.
    beet(env, "modify", "-y", "-w", "instruments_lead=piano", f"path:{lib / 'track.mp3'}")
    assert raw_values(lib / "track.mp3", "mp3v24", "INSTRUMENTS_LEAD") == ["piano"]
    assert raw_values(lib / "track.mp3", "mp3v24", "INSTRUMENTS") == joined(
        ["bass", "piano", "saxophone"])


def test_beet_instruments_analyses_items_and_writes_only_when_asked(music: Path,
                                                                      tmp_path: Path) -> None:
    lib = copy_of(music, tmp_path / "music")
    env = beets_env(tmp_path, lib)
    beet(env, "import", "-A", str(lib))
    assert set(listing(env, "$instruments")) == {p.name for p in lib.iterdir()}
    before = digests(lib)

    done = beet(env, "instruments")
    assert f"instruments: {len(FORMATS)} analysed, 0 unchanged, 0 failed" in done.stdout
    assert digests(lib) == before  # no -w: beets' database only
    store = Store(tmp_path / "tagger.db")
    wanted = {Path(row["path"]).name: desired_fields(store, row["id"], row["model"])
              for row in store.iter_tracks()}
    store.close()
    assert len(wanted) == len(FORMATS)
    assert all(want["INSTRUMENTS_MODEL"] for want in wanted.values())
    assert listing(env, "$instruments|$instruments_model") == {
        name: "; ".join(want["INSTRUMENTS"]) + "|" + want["INSTRUMENTS_MODEL"][0]
        for name, want in wanted.items()}

    audio = {p.name: packets(p) for p in lib.iterdir()}
    written = beet(env, "instruments", "-w", "format:FLAC")  # a query picks the items
    # Unchanged since the first run: the store answers, nothing is analysed again.
    assert "0 analysed, 1 unchanged, 0 failed; 0 item(s) updated, tags written to 1 file(s)" in (
        written.stdout)
    assert {n for n, d in digests(lib).items() if d != before[n]} == {"track.flac"}
    beet(env, "instruments", "-w")
    for path in lib.iterdir():
        want = wanted[path.name]
        assert raw_values(path, VARIANT[path.suffix], "INSTRUMENTS") == joined(
            want["INSTRUMENTS"]), path.name
        assert raw_values(path, VARIANT[path.suffix], "INSTRUMENTS_MODEL") == want[
            "INSTRUMENTS_MODEL"], path.name
        assert packets(path) == audio[path.name], path.name
    assert beet(env, "update").stdout.strip() == ""  # beets' mtimes follow our writes


def test_beet_instruments_reports_a_damaged_file_in_one_line_and_goes_on(
        music: Path, tmp_path: Path) -> None:
    lib = copy_of(music, tmp_path / "music")
    env = beets_env(tmp_path, lib)
    beet(env, "import", "-A", str(lib))
    (lib / "track.ogg").write_bytes(b"OggS" + os.urandom(3000))  # damaged after the import
    done = beet(env, "instruments", ok=False)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "track.ogg" in line]
    assert len(errors) == 1 and errors[0].startswith("instruments: "), done.stderr
    assert f"{len(FORMATS) - 1} analysed, 0 unchanged, 1 failed" in done.stdout
    fields = listing(env, "$instruments_model")
    assert fields.pop("track.ogg") == ""
    assert all(fields.values()), fields


def test_beet_write_keeps_a_users_own_instruments_text(music: Path, tmp_path: Path) -> None:
    """`beet modify -w` rewrites every field beets knows; the plugin's fields must keep the
    user's own text (their separator, their layout) when the instruments are the same."""
    import mutagen

    lib = tmp_path / "lib"
    lib.mkdir()
    flac = lib / "track.flac"
    shutil.copy(music / "track.flac", flac)
    audio = mutagen.File(flac)
    audio["INSTRUMENTS"] = ["Guitar;Vocals"]
    audio.save()
    env = beets_env(tmp_path, lib)
    beet(env, "import", "-A", str(lib))
    assert listing(env, "$instruments")["track.flac"] == "Guitar; Vocals"
    beet(env, "modify", "-y", "-w", "title=Renamed")
    assert mutagen.File(flac)["TITLE"] == ["Renamed"]  # beets did write the file
    assert raw_values(flac, "flac", "INSTRUMENTS") == ["Guitar;Vocals"]
