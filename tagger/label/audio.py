"""One clip of a track for the page: a WAV to play and a spectrogram PNG.

The browser never sees a path: the server turns a clip id into a track it scanned, reads the
window with :func:`tagger.audio.clip.load_clip` (the scanner's decoder, seeking where that is
exact) and sends the bytes made here. Decoding server-side also means every format the scanner
reads plays in the page, even those browsers cannot (wma, aiff).
"""

from __future__ import annotations

import io
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

SERVE_RATE = 44100  # what the page hears: full bandwidth, so cymbals and breath are audible
SPECTROGRAM_MELS = 128  # rows of the page's spectrogram image


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV: every browser plays it, no encoder needed."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def spectrogram_png(samples: np.ndarray, sample_rate: int, *, n_mels: int = SPECTROGRAM_MELS,
                    n_fft: int = 2048, hop: int = 512) -> bytes:
    """The clip's display spectrogram (:mod:`tagger.audio.spectrogram`, as ``show --plot`` draws it)
    as a PNG, low frequencies at the bottom, one pixel per frame and mel band.

    The page stretches the image and draws the axes itself, so it stays small (~430 x 128 for
    5 s at 44.1 kHz); column ``k`` is centred on ``k * hop`` samples into the clip.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib import image

    from tagger.audio.spectrogram import log_mel_db

    db = log_mel_db(samples, sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    buffer = io.BytesIO()
    image.imsave(buffer, db, cmap="magma", vmin=-80.0, vmax=0.0, origin="lower", format="png")
    return buffer.getvalue()


def frequency_ticks(sample_rate: int = SERVE_RATE, n_mels: int = SPECTROGRAM_MELS
                    ) -> list[dict[str, float | str]]:
    """Where the page labels its spectrogram's frequency axis: ``{"at": fraction of the image's
    height from the bottom, "label": "1k"}`` for the image :func:`spectrogram_png` makes."""
    from tagger.audio.spectrogram import mel_axis

    (bottom, top), ticks = mel_axis(sample_rate, n_mels, min_gap=0.08)  # the page's is ~190 px
    return [{"at": round((mel - bottom) / (top - bottom), 4), "label": label}
            for mel, label in ticks]


class ClipCache:
    """A few recently decoded clips, so the WAV and the spectrogram of a clip decode once.

    The page asks for both at the same moment; the per-key lock makes the second request wait
    for the first decode instead of starting another.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = load()
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return value
