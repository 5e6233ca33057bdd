"""beets plugin ``instruments``: tagger's instrument fields in a beets library.

Enable it with ``plugins: instruments`` in beets' config.yaml. It

- declares the fields tagger writes (``instruments``, ``instruments_lead``,
  ``instruments_model``) as media fields, so ``beet import`` / ``beet update`` read them from
  the files and ``beet write`` writes them back in tagger's layout;
- types the two lists as lists, so ``beet ls instruments:saxophone`` finds a track with a
  saxophone and ``$instruments`` prints ``double bass; piano; saxophone``;
- adds ``beet instruments [-w] [-f] [QUERY]``: analyse the matching items with tagger (its
  scanner and store: unchanged files are not analysed again), set the fields on the items in
  beets' database, and with ``-w`` also write them into the files with tagger's verified,
  atomic tag writer (audio bytes untouched, old values backed up for ``tagger tag --remove``).

Named after the fields it adds, the way beets plugins usually are (``lyrics``, ``replaygain``);
``tagger`` would read as a second beets tagger. Configuration (all optional)::

    instruments:
      db: ~/music/tagger.db   # tagger's store; default: tagger's own (TAGGER_DB, else the
                              # user data dir), so `tagger query/show` see the same analysis
      model: null             # tagger model NAME or PATH; null: the default model
      multi_value: null       # joined ("a; b") or list (one value per instrument); null:
                              # the layout each file has (joined where it has none)
      separator: "; "
"""

from __future__ import annotations

import os
from typing import Any

from beets import config as beets_config
from beets import ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin
from mediafile import ListMediaField, MediaField
from mediafile.storage import (
    ASFStorageStyle, ListStorageStyle, MP3ListDescStorageStyle, MP4ListStorageStyle,
)

from tagger.tags.fields import INSTRUMENTS, INSTRUMENTS_LEAD, INSTRUMENTS_MODEL, Field
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions

# beets field name -> tagger field, in the order `beet info` lists them.
BEETS_FIELDS: dict[str, Field] = {
    "instruments": INSTRUMENTS,
    "instruments_lead": INSTRUMENTS_LEAD,
    "instruments_model": INSTRUMENTS_MODEL,
}


class _Layout:
    """Mixin for mediafile's list styles: values in and out in tagger's layout.

    Reading splits a joined value (either layout reads as the list); writing joins or lists
    as ``options`` say, so ``beet write`` leaves a file as tagger would have written it.
    """

    def __init__(self, *args: Any, field_name: str, options: TagOptions, **kwargs: Any):
        self.field_name = field_name
        self.options = options
        super().__init__(*args, **kwargs)

    def _stored(self, mutagen_file: Any) -> list[str] | None:
        values = super().get_list(mutagen_file)  # type: ignore[misc]
        if values is None:
            return None  # MP4 freeform data comes as bytes
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]

    def get_list(self, mutagen_file: Any) -> list[str] | None:
        stored = self._stored(mutagen_file)
        return None if stored is None else self.options.decode(self.field_name, stored)

    def set_list(self, mutagen_file: Any, values: Any) -> None:
        stored = self._stored(mutagen_file)
        if values is not None:
            values = [str(v) for v in values]
            if stored and self.options.decode(self.field_name, stored) == values:
                return  # the same instruments: `beet write` keeps the file's own text as it is
            options = self.options.for_file({self.field_name: stored or []})
            values = options.encode(self.field_name, values)
        super().set_list(mutagen_file, values or None)  # type: ignore[misc]


class _ID3(_Layout, MP3ListDescStorageStyle):
    pass


class _MP4(_Layout, MP4ListStorageStyle):
    pass


class _Vorbis(_Layout, ListStorageStyle):
    pass


class _ASF(_Layout, ASFStorageStyle):
    pass


def media_field(field: Field, options: TagOptions = DEFAULT_OPTIONS) -> MediaField:
    """A mediafile descriptor for one of tagger's fields, with tagger's keys per format."""
    kw = {"field_name": field.name, "options": options}
    styles = (
        _ID3(desc=field.style("id3").key, **kw),
        _MP4(field.style("mp4").label, **kw),
        _Vorbis(field.style("vorbis").key, **kw),
        _ASF(field.style("asf").key, **kw),
    )
    descriptor = ListMediaField(*styles)
    return descriptor if field.multi else descriptor.single_field()


def plugin_options(conf: Any) -> TagOptions:
    """TagOptions from the plugin's config and beets' own ``id3v23`` setting."""
    layout = conf["multi_value"].get()
    return TagOptions(multi_value=None if layout is None else str(layout),  # type: ignore[arg-type]
                      separator=conf["separator"].as_str(),
                      id3_version=3 if beets_config["id3v23"].get(bool) else 4)


class InstrumentsPlugin(BeetsPlugin):
    item_types = {
        "instruments": types.SEMICOLON_SPACE_DSV,
        "instruments_lead": types.SEMICOLON_SPACE_DSV,
        "instruments_model": types.STRING,
    }

    def __init__(self, name: str | None = None):
        super().__init__(name)
        self.config.add({"db": None, "model": None, "multi_value": DEFAULT_OPTIONS.multi_value,
                         "separator": DEFAULT_OPTIONS.separator})
        try:
            self.options = plugin_options(self.config)
        except ValueError as exc:
            raise ui.UserError(f"instruments: {exc}") from None
        for name_, field in BEETS_FIELDS.items():
            self.add_media_field(name_, media_field(field, self.options))

    def commands(self) -> list[ui.Subcommand]:
        cmd = ui.Subcommand("instruments", help="find the instruments in items with tagger")
        cmd.parser.add_option("-w", "--write", action="store_true", default=False,
                              help="also write the instrument tags into the files")
        cmd.parser.add_option("-f", "--force", action="store_true", default=False,
                              help="analyse unchanged files again")
        cmd.parser.add_option("-m", "--model", default=None,
                              help="tagger model NAME or PATH (default: config, else tagger's)")
        cmd.func = self._command
        return [cmd]

    def _command(self, lib: Any, opts: Any, args: list[str]) -> None:
        from beetsplug.instruments.run import analyse_items  # torch loads only when needed

        model = opts.model or self.config["model"].get()
        db = self.config["db"].get()
        failed = analyse_items(
            lib.items(args), log=self._log, db=os.path.expanduser(db) if db else None,
            model=model, force=opts.force, write=opts.write, options=self.options)
        if failed:
            raise ui.UserError(f"instruments: {failed} item(s) failed (see above)")
