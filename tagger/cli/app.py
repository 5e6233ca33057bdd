"""The ``tagger`` Typer app. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="tagger",
    help="Find which instruments play where in your music library.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules, imported for their @app.command side effect. Order = order in --help.
COMMAND_MODULES = ("scan", "query", "show", "export", "models", "tag", "label", "train", "eval",
                   "prune")


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"tagger.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tagger.cli.{name}":
                raise


_load_commands()


def main() -> None:
    app()
