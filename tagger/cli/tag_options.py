"""How tags are laid out: the options ``tagger tag`` and ``scan --write-tags`` share."""

from __future__ import annotations

from typing import Annotated

import typer

from tagger.cli.common import fail
from tagger.tags.options import DEFAULT_SEPARATOR, TagOptions, parse_id3_version

MultiValueOption = Annotated[str, typer.Option(
    "--multi-value", metavar="joined|list",
    help="Several instruments as one value joined by the separator (every reader shows them"
         " all) or as a list (one value each: NUL-separated ID3, repeated Vorbis keys).")]
SeparatorOption = Annotated[str, typer.Option(
    "--separator", help="What joins the instruments with --multi-value joined.")]
Id3VersionOption = Annotated[str, typer.Option(
    "--id3-version", metavar="2.3|2.4",
    help="Version of the ID3 tags tagger creates (mp3/wav/aiff without one); existing tags keep"
         " theirs.")]


def tag_options(multi_value: str = "joined", separator: str = DEFAULT_SEPARATOR,
                id3_version: str = "2.4") -> TagOptions:
    """The options as given on the command line; a bad value is a usage error (exit 2)."""
    try:
        return TagOptions(multi_value=multi_value.strip().lower(),  # type: ignore[arg-type]
                          separator=separator, id3_version=parse_id3_version(id3_version))
    except ValueError as exc:
        fail(str(exc))
