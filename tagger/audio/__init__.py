"""Reading audio: the one decoder (any format to mono float32 at a rate), and pictures of it.

- :mod:`~tagger.audio.decode`: ``decode`` (a whole track), ``decode_blocks`` (streamed),
  ``probe`` (header facts), ``DecodeError`` (one line for users, a ``kind`` for code);
- :mod:`~tagger.audio.clip`: ``load_clip`` (a stretch of a track, by seeking where exact);
- :mod:`~tagger.audio.opening`: check the file, sniff it, open it with the backend that reads it;
- :mod:`~tagger.audio.backends`, :mod:`~tagger.audio.sniff`, :mod:`~tagger.audio.mix`,
  :mod:`~tagger.audio.quiet`: how the decoder reads, picks a backend, mixes down, keeps quiet;
- :mod:`~tagger.audio.spectrogram`: the display spectrogram (``show --plot``, the label page).

Names are imported on first use (PEP 562), so ``import tagger.audio`` loads neither numpy nor a
backend. ``decode`` and ``sniff`` are not exported here: they share their names with their
submodules, and once a submodule is imported Python binds its name on the package, so
``from tagger.audio import decode`` would give the module. Import them from their modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagger.lazy import lazy_exports

if TYPE_CHECKING:
    from tagger.audio.clip import load_clip
    from tagger.audio.decode import AudioInfo, DecodeError, decode_blocks, probe
    from tagger.audio.spectrogram import log_mel_db, mel_axis

_EXPORTS = {
    "AudioInfo": "decode", "DecodeError": "decode", "decode_blocks": "decode", "probe": "decode",
    "load_clip": "clip", "log_mel_db": "spectrogram", "mel_axis": "spectrogram",
}
__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
