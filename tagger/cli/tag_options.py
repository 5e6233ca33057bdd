"""How tags are laid out: the options ``tagger tag`` and ``scan --write-tags`` share."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tagger.cli.common import fail
from tagger.tags.options import (DEFAULT_ID3_VERSION, DEFAULT_SEPARATOR, TagOptions,
                                 parse_id3_version)

MultiValueOption = Annotated[Optional[str], typer.Option(
    "--multi-value", metavar="joined|list",
    help="Several instruments as one value joined by the separator (every reader shows them"
         " all) or as a list (one value each: NUL-separated ID3, repeated Vorbis keys)."
         " Default: the layout each file already has; joined for a file without our tags.")]
SeparatorOption = Annotated[str, typer.Option(
    "--separator", help="What joins the instruments with --multi-value joined.")]
Id3VersionOption = Annotated[str, typer.Option(
    "--id3-version", metavar="2.3|2.4",
    help="Version of the ID3 tags tagger creates (mp3/wav/aiff without one); existing tags keep"
         " theirs.")]


def tag_options(multi_value: str | None = None, separator: str = DEFAULT_SEPARATOR,
                id3_version: str = DEFAULT_ID3_VERSION) -> TagOptions:
    """The options as given on the command line; a bad value is a usage error (exit 2)."""
    try:
        layout = multi_value.strip().lower() if multi_value is not None else None
        return TagOptions(multi_value=layout,  # type: ignore[arg-type]
                          separator=separator, id3_version=parse_id3_version(id3_version))
    except ValueError as exc:
        fail(str(exc))
