"""The training data engine: labels follow what sounds, user data is checked, renders are real.

No test needs ../shared/data. Rendering tests use fluidsynth with the FluidR3 SoundFont (both in
scripts/system-packages-train.txt) and are skipped, with the reason, where those are missing.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from audiofiles import tone, write_audio
from tagger.audio.decode import decode
from tagger.taxonomy import CLASSES
from tagger.train.data.audio import CACHE_SR
from tagger.train.data.build import Plan, build_cache, load_bank
from tagger.train.data.deps import MissingDependency, require_tool
from tagger.train.data.evalsets import build_eval_set
from tagger.train.data.gm import SOUNDFONTS, SoundFont, program_labels, render_parts
from tagger.train.data.midi import Note, Part, read_midi, write_midi
from tagger.train.data.mixture import MixtureSource, Placed, mix_stems
from tagger.train.data.split import DEFAULT_HOLDOUT, HoldoutError, held_out, split_sources
from tagger.train.data.stems import StemBank, StemCache, make_stem
from tagger.train.data.userdata import user_source
from tagger.train.labelled import DataError

SR = CACHE_SR
IDX = {c: i for i, c in enumerate(CLASSES)}
FLUID = next(f for f in SOUNDFONTS if f.name == "fluid")
needs_fluid = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or FLUID.path() is None,
    reason="needs fluidsynth and fluid-soundfont-gm (scripts/system-packages-train.txt)")


def burst(seconds: float, on: tuple[float, float], freq: float = 440.0) -> np.ndarray:
    """A tone that sounds only between on[0] and on[1] seconds, silent elsewhere."""
    x = np.zeros(int(seconds * SR), np.float32)
    a, b = int(on[0] * SR), int(on[1] * SR)
    x[a:b] = tone((b - a) / SR + 0.01, SR, freq=freq)[: b - a, 0]
    return x


def put(path: Path, seconds: float, sample_rate: int, freq: float = 440.0) -> Path:
    """Write a real audio file (codec from the extension) with its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, tone(seconds, sample_rate, freq=freq), sample_rate)


def closest_slice(signal: np.ndarray, part: np.ndarray) -> int:
    """Where ``part`` sits in ``signal``: the offset of least squared difference (by FFT)."""
    n, m = len(signal), len(part)
    size = 1 << (n + m).bit_length()
    corr = np.fft.irfft(np.fft.rfft(signal, size) * np.conj(np.fft.rfft(part, size)), size)
    sums = np.concatenate([[0.0], np.cumsum(signal.astype(np.float64) ** 2)])
    energy = sums[m:] - sums[:-m]
    return int(np.argmin(energy - 2 * corr[: n - m + 1]))


def stem(cls: str | None, x: np.ndarray, **kw):
    classes = (cls,) if cls else ()
    return make_stem(x, classes=classes, source=kw.pop("source", f"test:{cls}"),
                     family=kw.pop("family", f"test:{cls}"), **kw)


# --- labels -------------------------------------------------------------------------------


def test_silent_part_in_window_is_absent():
    piano = stem("piano", burst(6.0, (0.0, 3.0)))  # plays only in the first 3 s
    n = 2 * SR
    _, presence, _, _ = mix_stems([Placed(piano, 0)], n)
    assert presence[IDX["piano"]] == 1
    _, presence, fg, mask = mix_stems([Placed(piano, int(3.5 * SR))], n)
    assert presence[IDX["piano"]] == 0 and fg.sum() == 0 and mask.all()


def test_foreground_is_the_louder_part():
    violin = stem("violin", burst(4.0, (0, 4), 660.0))
    cello = stem("cello", burst(4.0, (0, 4), 110.0))
    n = 3 * SR
    audio, presence, fg, _ = mix_stems([Placed(violin, 0, 1.0), Placed(cello, 0, 0.3)], n)
    assert presence[IDX["violin"]] == presence[IDX["cello"]] == 1
    assert fg[IDX["violin"]] == 1 and fg[IDX["cello"]] == 0
    _, _, fg, _ = mix_stems([Placed(violin, 0, 0.3), Placed(cello, 0, 1.0)], n)
    assert fg[IDX["cello"]] == 1 and fg[IDX["violin"]] == 0
    assert audio.dtype == np.float32 and len(audio) == n


def test_brief_part_is_present_but_not_lead():
    long = stem("piano", burst(3.0, (0, 3)))
    short = stem("trumpet", burst(3.0, (1.0, 1.4), 880.0))  # loud but only 0.4 s
    _, presence, fg, _ = mix_stems([Placed(long, 0, 1.0), Placed(short, 0, 2.0)], 3 * SR)
    assert presence[IDX["trumpet"]] == 1 and fg[IDX["trumpet"]] == 0 and fg[IDX["piano"]] == 1


def test_distractor_masks_its_near_miss_only_while_it_sounds():
    viola = make_stem(burst(4.0, (0, 2), 330.0), classes=(), masked=("violin",), source="x")
    n = SR
    _, presence, _, mask = mix_stems([Placed(viola, 0)], n)
    assert presence.sum() == 0 and mask[IDX["violin"]] == 0 and mask.sum() == len(CLASSES) - 1
    _, _, _, mask = mix_stems([Placed(viola, 3 * SR)], n)  # silent there: label is sure
    assert mask.all()
    violin = stem("violin", burst(4.0, (0, 4), 660.0))
    _, presence, _, mask = mix_stems([Placed(viola, 0), Placed(violin, 0)], n)
    assert presence[IDX["violin"]] == 1 and mask[IDX["violin"]] == 1


def synthetic_bank() -> StemBank:
    """A few tone stems per class, one song group, and a distractor: no rendering needed."""
    rng = np.random.default_rng(0)
    stems = []
    for i, cls in enumerate(("piano", "violin", "bass", "voice")):
        for k in range(2):
            x = burst(8.0, (float(rng.uniform(0, 2)), float(rng.uniform(5, 8))), 110 * (i + 2))
            fam = "sf-test" if k == 0 else f"real-{cls}"
            stems.append(stem(cls, x, family=fam, source=fam, group="song1" if k == 0 else "",
                              role="lead" if cls == "voice" else "accomp"))
    stems.append(make_stem(burst(8.0, (0, 8), 250.0), classes=(), masked=("violin",),
                           source="oboe", family="oboe"))
    return StemBank(stems)


def test_mixture_source_yields_valid_deterministic_examples():
    src = MixtureSource(synthetic_bank(), sample_rate=16000, clip_seconds=2.0)
    a = [next(src.examples(np.random.default_rng(7))) for _ in range(1)]
    it1, it2 = src.examples(np.random.default_rng(3)), src.examples(np.random.default_rng(3))
    for _ in range(40):
        e1, e2 = next(it1), next(it2)
        assert np.array_equal(e1.audio, e2.audio) and np.array_equal(e1.presence, e2.presence)
        assert e1.audio.shape == (32000,) and e1.audio.dtype == np.float32
        assert np.all(np.isfinite(e1.audio)) and np.abs(e1.audio).max() <= 1.0
        for arr in (e1.presence, e1.foreground, e1.mask):
            assert arr.shape == (len(CLASSES),) and set(np.unique(arr)) <= {0.0, 1.0}
        assert np.all(e1.foreground <= e1.presence)
        assert e1.source
    assert a[0].audio.shape == (32000,)


# --- cache, split, eval -------------------------------------------------------------------


def test_cache_roundtrip_and_split(tmp_path):
    bank = synthetic_bank()
    store = StemCache(tmp_path)
    recipe = {"kind": "test", "n": 1}
    store.put(recipe, bank.stems)
    assert store.has(recipe) and not store.has({"kind": "test", "n": 2})
    back = store.load()
    assert len(back) == len(bank)
    s0, b0 = bank.stems[0], back.stems[0]
    assert s0.classes == b0.classes and s0.group == b0.group
    assert np.array_equal(np.asarray(s0.audio), np.asarray(b0.audio))
    train, val = split_sources(back, ("sf-test",))
    assert len(val) == 4 and all(s.family == "sf-test" for s in val)
    assert not any(s.family == "sf-test" for s in train)
    assert held_out("sf:timgm", "sf-timgm") and not held_out("sf:fluid", "sf-fluid")
    with pytest.raises(HoldoutError, match="'sf-tset'.* match no source or family; there are: "):
        split_sources(back, ("sf-test", "sf-tset"))  # a typo must not hold out nothing
    train, val = split_sources(back, DEFAULT_HOLDOUT)  # the default: sources may be absent
    assert len(train) + len(val) == len(back)


def test_heldout_eval_set_is_deterministic(tmp_path):
    StemCache(tmp_path).put({"kind": "test"}, synthetic_bank().stems)
    kw = dict(sample_rate=16000, clip_seconds=1.0, cache=tmp_path, holdout=("sf-test",), size=12,
              real_root=tmp_path / "none")
    a, b = build_eval_set("heldout", 1, **kw), build_eval_set("heldout", 1, **kw)
    assert len(a) == 12
    assert all(np.array_equal(x.audio, y.audio) and np.array_equal(x.presence, y.presence)
               for x, y in zip(a, b))
    with pytest.raises(ValueError, match="unknown eval set"):
        build_eval_set("nope", **kw)


# --- MIDI and rendering -------------------------------------------------------------------


def test_midi_roundtrip_keeps_notes_channels_and_programs():
    notes = [Note(0.5 * i, 0.4, 60 + i, 90) for i in range(4)]
    data = write_midi([(0.0, Part(notes, program=40, channel=0)),
                       (0.0, Part(notes[:2], program=0, channel=9, bank=128))])
    parts = read_midi(data)
    by_ch = {p.channel: p for p in parts}
    assert by_ch[0].program == 40 and [n.pitch for n in by_ch[0].notes] == [60, 61, 62, 63]
    assert abs(by_ch[0].notes[2].start - 1.0) < 0.01 and by_ch[9].bank == 128


def test_program_map_labels():
    assert program_labels(40) == (("violin",), ())
    assert program_labels(41) == ((), ("violin",))  # viola: near miss, masked
    assert program_labels(68) == ((), ())  # oboe: a clear "none of ours"
    assert program_labels(0, drum=True) == (("drums",), ())


@needs_fluid
def test_rendered_stem_labels_match_what_was_played():
    # a violin plays for one second, then rests; the stem must show exactly that
    part = Part([Note(0.0, 1.0, 69, 100)], program=40)
    (audio,) = render_parts(FLUID, [part], tail_s=2.0)
    s = stem("violin", audio)
    _, presence, _, _ = mix_stems([Placed(s, 0)], SR)
    assert presence[IDX["violin"]] == 1
    _, presence, _, _ = mix_stems([Placed(s, int(2.2 * SR))], SR // 2)
    assert presence[IDX["violin"]] == 0


@needs_fluid
def test_quick_build_without_shared_data(tmp_path):
    plan = Plan(generated=(1, 1), mma=(0, 0), music21=(0, 0), bars=2, real_groups=0,
                hydrogen_kits=0, klettres_langs=0, fonts=("fluid",))

    def build() -> tuple[StemBank, list[str]]:
        logged: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no ../shared here: warned, not fatal
            bank = build_cache(tmp_path, plan=plan, real_root=tmp_path / "missing",
                               log=logged.append)
        return bank, logged

    bank, logged = build()
    assert len(bank) >= 3 and {s.source for s in bank} == {"sf:fluid"}
    assert len({s.group for s in bank}) == 1  # parts of one song share a timeline
    assert (tmp_path / "training_data.json").exists() and any("[1/1]" in m for m in logged)
    again, logged = build()
    assert len(again) == len(bank) == len(load_bank(tmp_path))
    assert not any("[1/1]" in m for m in logged)  # cached: nothing re-rendered
    ex = next(MixtureSource(bank, sample_rate=16000, clip_seconds=1.0).examples(
        np.random.default_rng(0)))
    assert ex.audio.shape == (16000,)


def test_missing_tools_name_the_package(tmp_path):
    with pytest.raises(MissingDependency, match="install the Debian package 'pkg-x'"):
        require_tool("no-such-tool-xyz", "pkg-x")
    ghost = SoundFont("ghost", "sf-ghost", (str(tmp_path / "no.sf2"),), "ghost-soundfont", "-")
    if shutil.which("fluidsynth"):
        with pytest.raises(MissingDependency, match="ghost-soundfont"):
            render_parts(ghost, [Part([Note(0, 1, 60)])])


# --- user data ----------------------------------------------------------------------------


def test_folder_source_labels_only_its_class(tmp_path):
    put(tmp_path / "sax" / "a.wav", 2.0, 22050, 300)
    put(tmp_path / "sax" / "b.flac", 4.0, 44100, 350)
    put(tmp_path / "cla" / "c.mp3", 2.5, 44100, 500)  # IRMAS code
    put(tmp_path / "none" / "d.wav", 1.0, 16000, 700)
    src = user_source(tmp_path, sample_rate=16000, clip_seconds=1.5)
    assert len(src) == 4
    it = src.examples(np.random.default_rng(0))
    seen = set()
    for _ in range(16):
        ex = next(it)
        assert ex.audio.shape == (24000,) and np.abs(ex.audio).max() > 0
        if not ex.presence.any():  # the "none" folder: every class known absent
            assert ex.mask.all()
            seen.add("none")
            continue
        (on,) = np.flatnonzero(ex.presence)
        seen.add(CLASSES[on])
        # A saxophone folder may hold a piano too: the other classes are unknown, not absent.
        assert ex.mask.sum() == 1 and ex.mask[on] == 1 and ex.foreground[on] == 1
    assert seen == {"saxophone", "clarinet", "none"}


def test_crops_are_slices_of_the_whole_track_in_every_format(tmp_path):
    """A crop is read by seeking (m4a and opus used to be decoded whole for each crop) and is
    exactly the slice of the track's full decode where it was drawn."""
    t = np.arange(6 * 44100) / 44100
    swell = np.sin(2 * np.pi * 311.0 * t) * (1 + np.sin(2 * np.pi * t / 2.7)) / 2  # not periodic
    (tmp_path / "organ").mkdir()
    for ext in (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".wma"):
        write_audio(tmp_path / "organ" / f"a{ext}", 0.3 * swell.astype(np.float32), 44100)
    src = user_source(tmp_path, sample_rate=16000, clip_seconds=1.0, augment=False)
    rng = np.random.default_rng(5)
    for it in src.items:
        full = decode(it.file.path, sample_rate=16000)
        for _ in range(3):
            crop = np.trim_zeros(src.crop(it, rng))  # centred in silence where the file ends
            assert len(crop) > 15000, it.file.path  # (headers over-state wma/m4a by ~50 ms)
            at = closest_slice(full, crop)
            assert np.abs(full[at:at + len(crop)] - crop).max() < 1e-4, it.file.path


def test_folder_source_skips_corrupt_file_with_warning(tmp_path):
    put(tmp_path / "voice" / "ok.wav", 1.0, 16000)
    (tmp_path / "voice" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.warns(UserWarning, match="broken.wav"):
        src = user_source(tmp_path, sample_rate=16000, clip_seconds=1.0)
    assert len(src) == 1
    assert next(src.examples(np.random.default_rng(0))).presence[IDX["voice"]] == 1


def test_file_that_breaks_during_training_is_dropped_with_warning(tmp_path):
    put(tmp_path / "flute" / "a.wav", 1.0, 16000)
    put(tmp_path / "flute" / "b.wav", 1.0, 16000, 880)
    src = user_source(tmp_path, sample_rate=16000, clip_seconds=1.0)
    (tmp_path / "flute" / "b.wav").write_bytes(b"not audio any more")
    it = src.examples(np.random.default_rng(0))
    with pytest.warns(UserWarning, match="b.wav"):
        got = [next(it) for _ in range(10)]
    assert all(ex.presence[IDX["flute"]] == 1 for ex in got)


def test_folder_source_errors(tmp_path):
    with pytest.raises(DataError, match="no class folders"):
        user_source(tmp_path)
    (tmp_path / "piano").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        user_source(tmp_path)
    (tmp_path / "kazoo").mkdir()
    with pytest.raises(DataError, match="unknown instrument 'kazoo'.*saxophone"):
        user_source(tmp_path)
    (tmp_path / "kazoo").rmdir()
    (tmp_path / "guitar").mkdir()
    with pytest.raises(DataError, match="group"):
        user_source(tmp_path)


def test_csv_source_labels_leads_and_errors(tmp_path):
    write_audio(tmp_path / "a.wav", tone(1.0, 16000), 16000)
    write_audio(tmp_path / "b.wav", tone(1.0, 16000, freq=220), 16000)
    write_audio(tmp_path / "c.wav", tone(1.0, 16000, freq=330), 16000)
    (tmp_path / "list.csv").write_text("path,labels,foreground,unknown\n"
                                       "a.wav,vocals;piano,vocals,\nb.wav,none,,\n"
                                       "c.wav,drums,,piano\n")
    src = user_source(tmp_path / "list.csv", sample_rate=16000, clip_seconds=1.0)
    rows = {Path(it.file.path).name: it.file for it in src.items}
    a, b, c = rows["a.wav"], rows["b.wav"], rows["c.wav"]
    assert a.presence[IDX["voice"]] == a.presence[IDX["piano"]] == 1 and a.presence.sum() == 2
    assert a.foreground[IDX["voice"]] == 1 and a.foreground[IDX["piano"]] == 0 and a.mask.all()
    assert b.presence.sum() == 0 and b.mask.all()  # "none": every class known absent
    # One instrument named: it leads; an "unknown" class is masked, the rest known absent.
    assert c.foreground[IDX["drums"]] == 1 and c.mask.sum() == len(CLASSES) - 1
    assert c.mask[IDX["piano"]] == 0
    (tmp_path / "bad.csv").write_text("path,labels\na.wav,piano;kazoo\n")
    with pytest.raises(DataError, match=r"bad.csv, line 2: .*kazoo"):
        user_source(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("path,labels\n")
    with pytest.raises(DataError, match="no rows"):
        user_source(tmp_path / "empty.csv")


def test_paths_in_tests_do_not_touch_shared():
    assert not any("shared" in str(p) for p in Path(__file__).parent.glob("*.wav"))
