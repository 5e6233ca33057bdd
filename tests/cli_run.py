"""Run the real ``tagger`` command at a given terminal width: in this process (``tagger``), or
in a fresh interpreter (``tagger_process``) where a test is about the process itself (its
imports, file descriptors, exit on a signal).

Both return a ``subprocess.CompletedProcess`` with text ``stdout``/``stderr`` and never raise
on exit codes. In this process the command goes through the console script's ``main()``, with
``COLUMNS`` set and stdout/stderr pipes that are not terminals, as a subprocess has them; it
saves each test the interpreter start and imports (~0.5-2 s). ``TAGGER_TESTS_SUBPROCESS=1``
runs every ``tagger(...)`` call as a subprocess instead, to check the two agree.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ALWAYS_SUBPROCESS = os.environ.get("TAGGER_TESTS_SUBPROCESS") == "1"


def _environment(columns: int, env: dict[str, str] | None) -> dict[str, str]:
    full_env = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    full_env.pop("LINES", None)
    return full_env


# What the installed ``tagger`` script runs, with its name (``python -m tagger`` would call
# itself "python -m tagger" in usage lines and shell completion).
CONSOLE_SCRIPT = ("import sys; sys.argv[0] = 'tagger'; from tagger.cli.app import console;"
                  " console()")


def tagger_process(*args: str, columns: int = 80, env: dict[str, str] | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """The ``tagger`` console script in a fresh interpreter, with ``COLUMNS`` set (Rich sizes
    its output by it when the output is not a terminal, as it is here); text captured, never
    raises on exit codes."""
    return subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, *args], capture_output=True,
                          text=True, timeout=timeout, env=_environment(columns, env))


def tagger(*args: str, columns: int = 80, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    """``tagger ARGS`` run in this process, as ``tagger_process`` would run it (``timeout``
    is only used there); in a subprocess under ``TAGGER_TESTS_SUBPROCESS=1``."""
    if ALWAYS_SUBPROCESS:
        return tagger_process(*args, columns=columns, env=env, timeout=timeout)
    return tagger_in_process(*args, columns=columns, env=env)


def tagger_in_process(*args: str, columns: int = 80,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``tagger ARGS`` run by ``tagger.cli.app.main`` (what the console script runs, less its
    fast exit) in this process."""
    from tagger.cli.app import main

    stdout, stderr = _pipe(), _pipe()
    code: object = 0
    with _process_state(_environment(columns, env), columns), \
            redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            main(list(args), prog_name="tagger")
        except SystemExit as exc:
            code = exc.code
        finally:
            stdout.flush()
            stderr.flush()
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["tagger", *args], returncode, _text(stdout),
                                       _text(stderr))


def _pipe() -> io.TextIOWrapper:
    """A text stream over bytes, as a pipe is: it has ``.buffer``, is not a terminal, and
    encodes UTF-8 (stderr, as Python's own, escapes what it cannot encode)."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace",
                            write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    """What ``subprocess.run(text=True)`` would read: decoded, with universal newlines."""
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


@contextmanager
def _process_state(environ: dict[str, str], columns: int) -> Iterator[None]:
    """The environment, console size and colour, torch's thread count and the working folder
    a fresh process would have, put back afterwards."""
    from tagger.cli.common import console, err_console

    saved_environ = dict(os.environ)
    saved_consoles = [(c, c._width, c._height, c._color_system) for c in (console, err_console)]
    torch = sys.modules.get("torch")
    saved_threads = torch.get_num_threads() if torch is not None else None
    saved_cwd = os.getcwd()
    os.environ.clear()
    os.environ.update(environ)
    for shown in (console, err_console):  # made when tagger.cli.common was first imported
        shown._width, shown._height, shown._color_system = columns, None, None
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        for shown, width, height, colours in saved_consoles:
            shown._width, shown._height, shown._color_system = width, height, colours
        if saved_threads is not None:
            torch.set_num_threads(saved_threads)
        os.chdir(saved_cwd)


def widest(text: str) -> int:
    """The longest line of ``text``, in characters (what a terminal counts, for our output:
    box-drawing and block characters are one column each)."""
    return max((len(line) for line in text.splitlines()), default=0)
