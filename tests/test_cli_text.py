"""What the real `tagger` prints: names with brackets intact, one-line usage errors, --version,
shell completion, and `--role lead`. The commands run in this process (tests/cli_run.py), but
where the process itself matters (stdout on a full disk at exit): a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiofiles import tone, write_audio
from cli_run import tagger, tagger_in_process
from library_store import fill_store

BRACKETED = "Song [remastered 2011].mp3"      # not audio: an error row
MARKUP_LIKE = "Live [bold] [red]x :fire:.wav"  # Rich markup and an emoji code, as a file name


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> dict[str, Path]:
    """A real scan of a real wav with a markup-like name and a broken file with brackets."""
    root = tmp_path_factory.mktemp("brackets")
    lib = root / "lib"
    lib.mkdir()
    write_audio(lib / MARKUP_LIKE, tone(3.0, 16000), 16000)
    (lib / BRACKETED).write_text("not audio\n")
    db = root / "t.db"
    first = tagger("scan", str(lib), "--db", str(db), "--model", str(tiny_model))
    assert first.returncode == 1, first.stderr
    return {"lib": lib, "db": db, "first": first}


def test_error_lines_keep_names_with_brackets(scanned: dict, tiny_model: Path) -> None:
    lib, first = scanned["lib"], scanned["first"]
    assert f"error {lib / BRACKETED}: not an audio file" in first.stderr
    assert "[model tiny-test-0]" in first.stdout  # the summary's own brackets, too
    again = tagger("scan", str(lib), "--db", str(scanned["db"]), "--model", str(tiny_model))
    assert f"error {lib / BRACKETED}: not an audio file" in again.stderr


def test_tables_and_timelines_keep_names_with_brackets(scanned: dict) -> None:
    lib, db = scanned["lib"], str(scanned["db"])
    table = tagger("query", "--status", "all", "--db", db, columns=200)
    assert table.stdout.splitlines()[0] == f"in {lib}/"
    assert MARKUP_LIKE in table.stdout and BRACKETED in table.stdout
    show = tagger("show", MARKUP_LIKE, "--db", db)
    assert show.returncode == 0, show.stderr
    assert show.stdout.splitlines()[0].startswith(str(lib / MARKUP_LIKE)[:80])
    assert MARKUP_LIKE in show.stdout.replace("\n", "")
    failed = tagger("show", BRACKETED, "--db", db)
    assert str(lib / BRACKETED) in failed.stdout.replace("\n", "")


def test_one_line_errors_keep_brackets(scanned: dict) -> None:
    db = str(scanned["db"])
    result = tagger("show", "nothing [live].mp3", "--db", db)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no track 'nothing [live].mp3'")
    result = tagger("query", "--status", "ok[ray]", "--db", db)
    assert result.returncode == 2 and "'ok[ray]'" in result.stderr


def test_prune_lists_a_gone_file_with_brackets(tmp_path: Path, tiny_model: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    wav = write_audio(lib / "Take [2] :x:.wav", tone(2.0, 16000), 16000)
    db = str(tmp_path / "p.db")
    assert tagger("scan", str(lib), "--db", db, "--model", str(tiny_model)).returncode == 0
    wav.unlink()
    result = tagger("prune", "--dry-run", "--db", db)
    assert f"would remove {wav}" in result.stdout


USAGE_ERRORS = [
    (["query", "--min-score", "3"], "Invalid value for '--min-score'"),
    (["query", "--limit", "many"], "Invalid value for '--limit'"),
    (["query", "--db"], "Option '--db' requires an argument"),
    (["scan"], "Missing argument"),
    (["query", "--bogus"], "No such option: --bogus"),
    (["scan", "--workers", "-1", "x"], "Invalid value for '--workers'"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    result = tagger(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "╭" not in result.stderr and "Usage:" not in result.stderr


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path, tiny_model: Path) -> None:
    missing = tmp_path / "no such [dir]"
    result = tagger("scan", str(missing), "--db", str(tmp_path / "t.db"), "--model", str(tiny_model))
    assert result.returncode == 2
    assert result.stderr == f"error: no such file or folder: {missing}\n"
    assert not (tmp_path / "t.db").exists()


def test_version_and_help() -> None:
    from tagger import __version__

    result = tagger("--version")
    assert result.returncode == 0 and result.stdout == f"tagger {__version__}\n"
    bare = tagger()
    assert "Usage:" in bare.stdout and "stats" in bare.stdout


def test_shell_completion(tmp_path: Path) -> None:
    shown = tagger("--show-completion", "bash")
    assert shown.returncode == 0 and "complete" in shown.stdout and "_TAGGER_COMPLETE" in (
        shown.stdout.upper().replace(" ", "_"))
    # What bash asks when the user presses Tab after `tagger qu`, then after `--ro`.
    env = {"_TAGGER_COMPLETE": "complete_bash", "COMP_WORDS": "tagger qu", "COMP_CWORD": "1"}
    words = tagger(env=env)
    assert words.stdout.split() == ["query"]  # commands
    for line, expected in (("tagger query --ro", ["--role"]),
                           ("tagger query --has sa", ["sax", "saxophone"]),
                           ("tagger query --any flute,cl", ["flute,clarinet"]),
                           ("tagger query --role le", ["lead"])):
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(line.split()) - 1))
        words = tagger(env=env)
        assert words.stdout.split() == expected, line


def test_role_lead_is_the_word_the_output_uses(tmp_path: Path) -> None:
    store = fill_store(tmp_path / "lib.db")
    store.close()
    db = str(tmp_path / "lib.db")
    foreground = tagger("query", "--role", "foreground", "--paths", "--db", db)
    lead = tagger("query", "--role", "lead", "--paths", "--db", db)
    assert lead.returncode == 0, lead.stderr
    assert lead.stdout == foreground.stdout and lead.stdout.count("\n") == 6
    background = tagger("query", "--has", "piano", "--role", "accompaniment", "--paths", "--db", db)
    assert background.stdout.splitlines() == ["/music/jazz/So What.flac"]
    bad = tagger("query", "--role", "melody", "--db", db)
    assert bad.returncode == 2 and "foreground (lead/solo)" in bad.stderr
    shown = tagger("query", "--has", "sax", "--role", "lead", "--db", db)
    assert "saxophone 0.95 50% lead" in shown.stdout


def test_an_error_no_command_caught_is_still_one_line() -> None:
    """main() catches any TaggerError a command lets through: one line, exit 1, no traceback."""
    from tagger.cli.app import app
    from tagger.errors import TaggerError

    @app.command("fail-on-purpose")
    def fail_on_purpose() -> None:
        raise TaggerError("store [x.db] is\nbusy")

    try:
        run = tagger_in_process("fail-on-purpose")  # the command is only this process's
    finally:  # the app is this process's: leave it with the commands it had
        app.registered_commands[:] = [c for c in app.registered_commands
                                      if c.callback is not fail_on_purpose]
    assert run.returncode == 1, run.stderr
    assert run.stderr == "error: store [x.db] is busy\n"


@pytest.mark.parametrize("command", [["stats", "--json"], ["export"], ["query", "--m3u", "-"],
                                     ["query", "--paths"]])
def test_a_full_disk_on_stdout_is_one_line(scanned: dict, command: list[str]) -> None:
    """`tagger export > /dev/full`: one line naming the failure, exit 1, no traceback."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:  # a real process: what it writes at exit counts too
        run = subprocess.run([sys.executable, "-m", "tagger", *command, "--db", str(scanned["db"])],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines() == ["error: cannot write the output: No space left on device"]


@pytest.mark.parametrize("command, name", [
    (["show", MARKUP_LIKE, "--plot"], "victim.flac"),
    (["query", "--m3u"], "victim.mp3"),
    (["export", "-o"], "victim-named.txt"),  # audio inside, whatever the name says
])
def test_outputs_never_replace_an_audio_file(scanned: dict, tmp_path: Path, command: list[str],
                                             name: str) -> None:
    """A plot, playlist or export aimed at an existing audio file refuses, in one line, and the
    file keeps every byte."""
    victim = tmp_path / name
    write_audio(tmp_path / "real.wav", tone(1.0, 16000), 16000)
    victim.write_bytes((tmp_path / "real.wav").read_bytes())
    before = victim.read_bytes()
    run = tagger(*command, str(victim), "--db", str(scanned["db"]))
    assert run.returncode != 0, run.stdout
    assert "it is an audio file, which tagger never replaces" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert victim.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["real.wav", name])  # no temp left
