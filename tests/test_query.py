"""`tagger query` and :mod:`tagger.query` on a real store: names, AND/OR/NOT, filters, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from library_store import ERROR_PATH, LIBRARY, track_result
from tagger.cli.app import app
from tagger.query import QueryError, QuerySpec, UnknownInstrumentError, m3u_bytes, run_query
from tagger.store import Store

runner = CliRunner()


def names(hits) -> list[str]:
    return [Path(h.path).stem for h in hits]


def q(store: Store, **kw) -> list[str]:
    return names(run_query(store, QuerySpec(**kw)))


def test_alias_and_best_score_first(store: Store) -> None:
    assert q(store, has=["sax"]) == ["So What", "Ballad"]
    assert q(store, has=["SAXOPHONE"]) == ["So What", "Ballad"]
    hits = run_query(store, QuerySpec(has=["sax"]))
    assert [m.instrument for m in hits[0].matched] == ["saxophone"]
    assert hits[0].matched[0].score == pytest.approx(0.95)


def test_groups_and_aliases(store: Store) -> None:
    assert sorted(q(store, has=["guitar"])) == ["Campfire", "Riff"]
    assert sorted(q(store, has=["vocals"])) == ["Ballad", "Campfire", "Riff", "Synth Pop"]
    assert q(store, has=["strings"]) == ["Quartet"]
    assert sorted(q(store, has=["keys"])) == ["Ballad", "So What", "Synth Pop"]


def test_has_is_and_of_groups(store: Store) -> None:
    # (acoustic OR electric guitar) AND voice
    assert sorted(q(store, has=["guitar", "vocals"])) == ["Campfire", "Riff"]
    assert q(store, has=["guitar", "sax"]) == []
    hits = run_query(store, QuerySpec(has=["sax", "keys"]))
    assert names(hits) == ["So What", "Ballad"]
    # The matched list holds every asked instrument that is present, best first.
    assert [m.instrument for m in hits[1].matched] == ["piano", "saxophone"]


def test_any_is_or_comma_and_repeat(store: Store) -> None:
    assert sorted(q(store, any=["flute,cello"])) == ["Campfire", "Quartet"]
    assert sorted(q(store, any=["flute", "cello"])) == ["Campfire", "Quartet"]
    assert sorted(q(store, has=["vocals"], any=["sax,organ"])) == ["Ballad", "Synth Pop"]


def test_not_excludes_presence(store: Store) -> None:
    assert sorted(q(store, has=["drums"], not_=["vocals"])) == ["So What"]
    assert q(store, has=["sax"], not_=["sax"]) == []
    # Everything listed, minus the tracks with voice (error rows are not "ok").
    assert sorted(q(store, not_=["voice", "guitar"])) == ["Quartet", "So What"]


def test_absent_rows_never_match(store: Store) -> None:
    # Every class has a row (score 0.1, coverage 0): present means coverage > 0.
    assert q(store, has=["clarinet"]) == []
    assert q(store, has=["clarinet"], min_score=0.0) == []


def test_min_score_coverage_role(store: Store) -> None:
    assert q(store, has=["sax"], min_score=0.9) == ["So What"]
    assert q(store, has=["sax"], min_coverage=0.2) == ["So What"]
    assert q(store, has=["sax"], role="background") == ["Ballad"]
    assert sorted(q(store, has=["vocals"], role="foreground", min_score=0.86)) == ["Campfire", "Riff"]
    # Filters apply to the asked instruments: Quartet's cello is background, its violin is not.
    assert q(store, has=["strings"], role="background") == ["Quartet"]
    hits = run_query(store, QuerySpec(has=["strings"], role="background"))
    assert [m.instrument for m in hits[0].matched] == ["cello"]
    # Without an instrument they mean "some instrument".
    assert "Quartet" in q(store, role="foreground", min_score=0.95)
    assert q(store, min_score=0.97) == ["Riff"]


def test_path_format_status_limit(store: Store) -> None:
    assert q(store, has=["drums"], formats=["flac"]) == ["So What"]
    assert sorted(q(store, formats=["MP3", ".ogg"])) == ["Ballad", "Campfire", "Riff"]
    assert q(store, path_glob="*/jazz/*", has=["piano"]) == ["Ballad", "So What"]
    assert sorted(q(store, path_contains="JAZZ")) == ["Ballad", "So What"]
    assert q(store, status="error") == ["Corrupt"]
    assert len(q(store, status=None)) == len(LIBRARY) + 1
    assert q(store, has=["drums"], limit=1) == ["Riff"]
    all_ok = q(store)  # no instrument asked: every ok track, by path
    assert all_ok == [Path(p).stem for p in sorted(LIBRARY)]
    assert q(store, limit=2) == all_ok[:2]


def test_unknown_and_bad_values(store: Store) -> None:
    with pytest.raises(UnknownInstrumentError, match="valid names: .*saxophone"):
        run_query(store, QuerySpec(has=["kazoo"]))
    with pytest.raises(QueryError):
        run_query(store, QuerySpec(has=["sax"], role="melody"))
    with pytest.raises(QueryError):
        run_query(store, QuerySpec(has=["sax"], min_score=1.5))


def test_names_resolve_against_store_classes(tmp_path: Path) -> None:
    # A store scanned by a model that knows only two classes: other names are unknown.
    with Store(tmp_path / "small.db") as s:
        r = track_result("/x/a.wav", 10.0, "wav", {"voice": (0.9, 0.5, "foreground")})
        r.instruments = [i for i in r.instruments if i.instrument in ("voice", "drums")]
        s.write_results([r])
        assert q(s, has=["vocals"]) == ["a"]
        with pytest.raises(UnknownInstrumentError, match="valid names: drum, drums, .*voice"):
            run_query(s, QuerySpec(has=["sax"]))


def test_m3u_bytes_keeps_raw_paths(tmp_path: Path) -> None:
    raw = b"/music/\xff odd.mp3"
    with Store(tmp_path / "odd.db") as s:
        s.write_results([track_result(raw.decode("utf-8", "surrogateescape"), 61.6, "mp3",
                                      {"drums": (0.9, 0.5, "background")})])
        data = m3u_bytes(run_query(s, QuerySpec(has=["drums"])))
    assert data == b"#EXTM3U\n#EXTINF:62,\\xff odd\n" + raw + b"\n"


# -- the command ---------------------------------------------------------------------------
def invoke(db: Path, *args: str):
    return runner.invoke(app, ["query", "--db", str(db), *args])


def test_cli_table_and_no_match(store: Store) -> None:
    result = invoke(store.path, "--has", "sax")
    assert result.exit_code == 0, result.output
    assert "So What.flac" in result.stdout and "saxophone" in result.stdout
    assert "2 tracks" in result.stdout
    # Named relative to the folder they share, said once above the table.
    lines = result.stdout.splitlines()
    assert lines[0] == "in /music/jazz/" and lines[1].split()[0] == "path"
    assert "/music/jazz/So What.flac" not in result.stdout
    everything = invoke(store.path, "--status", "all").stdout
    assert everything.splitlines()[0] == "in /music/" and "jazz/So What.flac" in everything
    result = invoke(store.path, "--has", "guitar", "--has", "sax")
    assert result.exit_code == 0
    assert "no tracks match" in result.output


def test_cli_unknown_instrument_is_usage_error(store: Store) -> None:
    result = invoke(store.path, "--has", "kazoo")
    assert result.exit_code == 2
    assert "unknown instrument 'kazoo'" in result.output
    assert "saxophone" in result.output and "guitar" in result.output
    assert "Traceback" not in result.output
    assert invoke(store.path, "--has", "sax", "--role", "melody").exit_code == 2
    assert invoke(store.path, "--json", "--paths").exit_code == 2
    assert runner.invoke(app, ["query", "--db", str(store.path.parent / "none.db")]).exit_code == 2


def test_cli_json_jsonl_paths(store: Store) -> None:
    result = invoke(store.path, "--any", "flute,cello", "--json")
    data = json.loads(result.stdout)
    assert [Path(d["path"]).stem for d in data] == ["Quartet", "Campfire"]
    assert data[0]["instruments"] == {"cello": {"score": 0.9, "coverage": 0.9, "role": "background"}}
    assert data[0]["duration"] == 300.0 and data[0]["format"] == "flac"

    lines = invoke(store.path, "--has", "drums", "--jsonl").stdout.splitlines()
    assert [Path(json.loads(x)["path"]).stem for x in lines] == ["Riff", "So What", "Synth Pop"]

    result = invoke(store.path, "--has", "guitar", "--format", "mp3,ogg", "--paths")
    assert result.stdout.splitlines() == ["/music/rock/Riff.mp3", "/music/folk/Campfire.ogg"]
    assert invoke(store.path, "--status", "error", "--paths").stdout == ERROR_PATH + "\n"
    [err] = json.loads(invoke(store.path, "--status", "error", "--json").stdout)
    assert err["status"] == "error" and err["error"] == "decode failed: invalid data"
    assert "decode failed" in invoke(store.path, "--status", "all").stdout
    assert invoke(store.path, "--has", "clarinet", "--json").stdout.strip() == "[]"


def test_cli_m3u(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "lists" / "sax.m3u"
    out.parent.mkdir()  # an output folder must exist (test_bad_input_store)
    result = invoke(store.path, "--has", "sax", "--m3u", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 2 tracks" in result.output
    assert out.read_text(encoding="utf-8") == (
        "#EXTM3U\n#EXTINF:200,So What\n/music/jazz/So What.flac\n"
        "#EXTINF:180,Ballad\n/music/jazz/Ballad.mp3\n")
    assert [p.name for p in out.parent.iterdir()] == ["sax.m3u"]  # no temp file left
