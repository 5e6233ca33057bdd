"""The options that pick tracks by what is in them, shared by ``tagger query`` and ``tagger tag``.

One definition, so both commands take the same spellings (``--any flute,clarinet``,
``--format mp3,flac``), complete the same words in the shell and say the same thing in --help;
:func:`filter_spec` turns them into the library's :class:`tagger.query.QuerySpec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:  # tagger.query is imported when a command runs, not for --help
    from tagger.query import QuerySpec


def complete_instruments(incomplete: str) -> list[str]:
    """Shell completion for instrument options: classes, aliases and groups; after a comma
    (``--any flute,cl``) the last name is completed and the ones before it kept."""
    from tagger import taxonomy

    head, comma, last = incomplete.rpartition(",")
    words = sorted({*taxonomy.CLASSES, *taxonomy.ALIASES, *taxonomy.GROUPS})
    return [head + comma + w for w in words if w.startswith(last.lower())]


def complete_roles(incomplete: str) -> list[str]:
    from tagger import taxonomy

    return [w for w in (*taxonomy.ROLES, *taxonomy.ROLE_ALIASES) if w.startswith(incomplete.lower())]


def option(*names: str, help: str, **kw: object) -> typer.models.OptionInfo:  # noqa: A002
    """A ``typer.Option`` that hides the (empty-list) default in --help."""
    return typer.Option(*names, help=help, show_default=False, **kw)  # type: ignore[arg-type]


Names = Annotated[list[str], option(
    "--has", autocompletion=complete_instruments,
    help="Instrument that must be present (repeatable: all of them). Classes, aliases (sax,"
         " vocals) or groups (guitar, strings, keys).")]
AnyNames = Annotated[list[str], option(
    "--any", autocompletion=complete_instruments,
    help="At least one of these (comma-separated, repeatable).")]
NotNames = Annotated[list[str], option(
    "--not", autocompletion=complete_instruments,
    help="Exclude tracks where this is present (repeatable).")]
MinScore = Annotated[Optional[float], option(
    "--min-score", min=0.0, max=1.0, help="Asked instruments need at least this score.")]
MinCoverage = Annotated[Optional[float], option(
    "--min-coverage", min=0.0, max=1.0,
    help="Asked instruments need at least this fraction of the track.")]
Role = Annotated[Optional[str], option(
    "--role", autocompletion=complete_roles,
    help="foreground (or lead, solo) or background (or accompaniment, backing).")]
PathGlob = Annotated[Optional[str], option(
    "--path", help="Only paths matching this glob (e.g. '*/Jazz/*').")]
PathContains = Annotated[Optional[str], option(
    "--path-contains", help="Only paths containing this text (any case).")]
Formats = Annotated[list[str], option(
    "--format", help="Only these formats (mp3, flac...; comma-separated, repeatable).")]


def filter_spec(*, has: list[str], any_: list[str], not_: list[str], min_score: float | None,
                min_coverage: float | None, role: str | None, path: str | None,
                path_contains: str | None, formats: list[str], status: str | None = "ok",
                limit: int | None = None) -> "QuerySpec":
    """The options as a query; comma-separated ``--format`` values are split here.

    An empty name (``--has "$UNSET"``, ``--any ,``) is a usage error: left out, it would leave
    no condition at all, and ``tagger tag`` would then write into every track.
    """
    from tagger.query import QuerySpec

    for flag, values in (("--has", has), ("--any", any_), ("--not", not_), ("--format", formats)):
        if any(not part.strip() for value in values for part in value.split(",")):
            raise typer.BadParameter("an empty name (an unset shell variable?)", param_hint=flag)

    return QuerySpec(has=list(has), any=list(any_), not_=list(not_), min_score=min_score,
                     min_coverage=min_coverage, role=role, path_glob=path,
                     path_contains=path_contains,
                     formats=[f for value in formats for f in value.split(",")],
                     status=status, limit=limit)


def filters_given(spec: "QuerySpec") -> bool:
    """Whether any of the track filters was used (a command may then need no other selection)."""
    return bool(spec.has or spec.any or spec.not_ or spec.formats or spec.path_glob
                or spec.path_contains or spec.role is not None or spec.min_score is not None
                or spec.min_coverage is not None)
