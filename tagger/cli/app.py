"""The ``tagger`` Typer app. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading
from typing import Annotated, Optional

import typer

from tagger.errors import TaggerError

app = typer.Typer(
    name="tagger",
    help="Find which instruments play where in your music library.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Command modules, imported for their @app.command side effect. Order = order in --help.
COMMAND_MODULES = ("scan", "query", "show", "export", "stats", "models", "tag", "label", "train",
                   "eval", "prune")


def tagger_version() -> str:
    """The installed distribution's version, else the package's own (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tagger")
    except PackageNotFoundError:
        from tagger import __version__
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tagger {tagger_version()}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = None,
) -> None:
    """Find which instruments play where in your music library."""


def _load_commands() -> None:
    """Import every command module: each registers its command on ``app`` when imported."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"tagger.cli.{name}")


_load_commands()


def usage_error_line(exc: typer.TyperException) -> str:
    """A click/Typer usage error as the one line every tagger error is: what is wrong, and
    where the command's help is (instead of Typer's usage text and boxed message)."""
    from tagger.printable import printable

    message = " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"error: {printable(message)}{where}"


def _os_error(exc: OSError) -> int:
    """An OSError no command reported (writing stdout, most often): one line, exit 1; a
    closed pipe (`tagger export | head`) is a normal end, exit 0."""
    from tagger.cli.common import silence_stdout
    from tagger.printable import printable

    silence_stdout()
    if isinstance(exc, BrokenPipeError):
        return 0
    what = f"cannot write {exc.filename}" if exc.filename else "cannot write the output"
    typer.echo(f"error: {printable(what)}: {exc.strerror or exc}", err=True)
    return 1


def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run the app and raise SystemExit with its code: usage errors are one line (exit 2),
    and so is any TaggerError a command let through (exit 1). ``args``/``prog_name`` default
    to ``sys.argv`` (the tests pass them to run a command in their own process)."""
    sys.exit(_run(args, prog_name))


def console() -> None:
    """The installed ``tagger`` script and ``python -m tagger``: ``main()``, then an exit
    without the interpreter's teardown (``_exit``), except under a tracer or profiler (pdb,
    coverage, cProfile), which do their last work after the program returns."""
    code = _run(None, None)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)
    _exit(code)


def _run(args: list[str] | None, prog_name: str | None) -> int:
    try:
        code = app(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (vendored click's) usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `tagger`, `tagger labels`
            typer.echo(exc.ctx.get_help())  # type: ignore[attr-defined]
        else:
            typer.echo(usage_error_line(exc), err=True)
        code = int(getattr(exc, "exit_code", 2))
    except typer.Abort:  # Ctrl-C at a prompt or in a command: the shell's code for SIGINT
        typer.echo("error: interrupted", err=True)
        code = 130
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        code = 130
    except TaggerError as exc:  # what a command did not report itself: still one line, no traceback
        from tagger.printable import printable

        typer.echo(f"error: {printable(' '.join(str(exc).split()))}", err=True)
        code = 1
    except OSError as exc:  # e.g. stdout on a full disk (`tagger export > /dev/full`)
        code = _os_error(exc)
    return code if isinstance(code, int) else 0


def _exit(code: int) -> None:
    """End the console script without the interpreter's teardown.

    After a scan, teardown cost 0.75 s on the 2-core dev VM: a last full collection over the
    ~10^5 objects torch's import left (0.45 s) and then freeing every module and torch's C++
    state (0.3 s), work whose only result is memory the OS takes back anyway. What exit must
    still do is done first: other threads finish, atexit handlers run (multiprocessing ends
    its children, Ray disconnects), stdout and stderr are flushed. Every file and database the
    commands write is closed by the command itself.
    """
    gc.freeze()  # nothing below may start the full collection
    shutdown = getattr(threading, "_shutdown", None)  # what the interpreter's exit calls first:
    if shutdown is not None:  # thread pools told to stop, then every non-daemon thread joined
        shutdown()
    else:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except OSError as exc:  # stdout on a full disk or a closed pipe: said on stderr
        try:
            code = code or _os_error(exc)
        except OSError:
            code = code or 1
    except (AttributeError, ValueError):  # replaced or closed by a caller
        pass
    try:
        sys.stderr.flush()
    except OSError:  # stderr itself cannot be written: nowhere left to say so
        code = code or 1
    except (AttributeError, ValueError):
        pass
    os._exit(code)
