"""The library API: its names resolve, a scan through it works, one ``scan()`` drives any
engine (issue 13). That ``import tagger`` stays cheap is checked in tests/test_layers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import tagger
from audiofiles import tone, write_audio
from cli_run import tagger as run_tagger
from tagger.engines import ENGINES, Engine, EngineError, LocalEngine, make_engine


def test_every_exported_name_resolves_to_where_it_lives() -> None:
    from tagger.export import export_tracks
    from tagger.model.registry import load_model
    from tagger.pipeline.run import scan
    from tagger.pipeline.scanning import ScanOptions, ScanProgress, ScanReport
    from tagger.query import QuerySpec, run_query
    from tagger.store.db import Store
    from tagger.tags.apply import tag_tracks
    from tagger.tags.writer import TagWriter

    homes = {"scan": scan, "ScanOptions": ScanOptions, "ScanReport": ScanReport,
             "ScanProgress": ScanProgress, "Store": Store, "QuerySpec": QuerySpec,
             "run_query": run_query, "tag_tracks": tag_tracks, "TagWriter": TagWriter,
             "export_tracks": export_tracks,
             "load_model": load_model}
    assert sorted(tagger.__all__) == sorted(homes)
    assert {name: getattr(tagger, name) for name in tagger.__all__} == homes
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        tagger.nothing  # noqa: B018


def test_scan_through_the_package_stores_a_real_track(tmp_path: Path, tiny_model: Path) -> None:
    wav = write_audio(tmp_path / "tone.wav", tone(3.0, 8000, freq=440.0), 8000)
    options = tagger.ScanOptions(model=str(tiny_model), device="cpu", workers=0)
    with tagger.Store(tmp_path / "s.db") as store:
        report = tagger.scan([str(wav)], store=store, options=options)
        assert (report.found, report.scanned, report.failed) == (1, 1, 0)
        assert report.audio_seconds == pytest.approx(3.0, abs=0.01)
        rows = list(tagger.export_tracks(store))
        assert [r["path"] for r in rows] == [str(wav)] and rows[0]["status"] == "ok"
        hits = tagger.run_query(store, tagger.QuerySpec(status="ok"))
        assert [h.path for h in hits] == [str(wav)]
        again = tagger.scan([str(wav)], store=store, options=options, engine="local")
        assert (again.scanned, again.skipped) == (0, 1)


class GivesUp(Engine):
    """An engine that finishes nothing: what a cluster that lost every track looks like."""

    name = "gives-up"
    unfinished_message = "given up"

    def run(self, to_scan, model, card, device, options, sink, progress):  # noqa: ANN001
        return list(to_scan)


def test_tracks_an_engine_did_not_finish_are_reported_and_not_stored(
        tmp_path: Path, tiny_model: Path) -> None:
    wavs = [str(write_audio(tmp_path / f"t{i}.wav", tone(1.0, 8000), 8000)) for i in range(2)]
    options = tagger.ScanOptions(model=str(tiny_model), device="cpu")
    with tagger.Store(tmp_path / "s.db") as store:
        report = tagger.scan(wavs, store=store, options=options, engine=GivesUp())
        assert report.problems == [(w, "given up") for w in wavs]
        assert report.scanned == report.failed == 0 and store.counts() == {}
        done = tagger.scan(wavs, store=store, options=options)  # the next scan retries them
        assert done.scanned == 2


def test_engines_by_name_and_their_settings() -> None:
    assert list(ENGINES) == ["local", "ray"]
    assert isinstance(make_engine("local"), LocalEngine)
    assert make_engine("ray", address="127.0.0.1:1").options.address == "127.0.0.1:1"
    with pytest.raises(EngineError, match="unknown engine 'spark' \\(known: local, ray\\)"):
        make_engine("spark")
    with pytest.raises(EngineError, match="the local engine takes no address setting"):
        make_engine("local", address="x")


def test_the_cli_refuses_an_unknown_engine_and_an_address_it_cannot_use(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "t.wav", tone(1.0, 8000), 8000)
    db = str(tmp_path / "s.db")
    bad = run_tagger("scan", str(wav), "--db", db, "--engine", "spark")
    assert bad.returncode == 2 and "--engine must be local or ray (got 'spark')" in bad.stderr
    bad = run_tagger("scan", str(wav), "--db", db, "--ray-address", "127.0.0.1:1")
    assert bad.returncode == 2 and "--ray-address needs --engine ray" in bad.stderr
    assert not Path(db).exists()
