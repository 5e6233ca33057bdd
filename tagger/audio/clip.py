"""One clip of a track (a label-page clip, a training crop), read by seeking where that is exact.

The same samples as the same slice of :func:`tagger.audio.decode.decode`, to float rounding
(1e-5; AAC ~1e-4 in noise-filled bands after a seek; tested per format),
without decoding what comes before: libsndfile seeks in wav/aiff/flac and in mp3s with a
header that matches the file, FFmpeg in m4a and Ogg (Vorbis, Opus) by their timestamps
(``read_span`` of :mod:`tagger.audio.backends`). Where a seek may miss the sample (other mp3s,
wma, raw streams), or the seek finds less than the header
promises or fails (a damaged file, a start past the end), the track is streamed from its start
by :func:`~tagger.audio.decode.decode_blocks` up to the clip's end: that is exact, and says
what is wrong in the decoder's words.

Resampling a clip on its own gives the samples of the whole track's resampling: the read starts
a little early, on an input sample that falls exactly on an output sample (a multiple of
``rate_in / gcd``), so the two resamplings are aligned, and the filter's start-up lies outside
the clip.
"""

from __future__ import annotations

import math
import os

import numpy as np
import soxr

from tagger.audio.backends import MPEG_CODECS, NotReadable, PyAVSource, Source
from tagger.audio.decode import _TRUNCATION_SLACK_S, decode_blocks
from tagger.audio.opening import DecodeError, open_track

__all__ = ["load_clip"]

_MARGIN_S = 0.05  # read this much more on both sides, so the resampler's edges fall outside


def load_clip(
    path: str | bytes | os.PathLike[str],
    *,
    sample_rate: int,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Mono float32 samples of ``[start_s, start_s + duration_s)`` at ``sample_rate`` (to the
    end when ``duration_s`` is None), like ``librosa.load(offset=, duration=)``: shorter when
    the track ends sooner. A start at or past the track's end, and every file the decoder
    cannot read, raise :class:`DecodeError` (one line, ``kind`` ``past_end`` for the former).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    if not start_s >= 0 or (duration_s is not None and not duration_s > 0):
        raise ValueError(f"need start_s >= 0 and duration_s > 0, not {start_s}, {duration_s}")
    first = int(round(start_s * sample_rate))
    count = None if duration_s is None else max(1, int(round(duration_s * sample_rate)))
    clip = _seeked(path, sample_rate, first, count)
    if clip is None:
        clip = _streamed(path, sample_rate, first, count)
    if len(clip) == 0:
        raise DecodeError(f"the track ends before {start_s:.1f} s", kind="past_end")
    return clip


def _seeked(path: str | bytes | os.PathLike[str], sample_rate: int, first: int,
            count: int | None) -> np.ndarray | None:
    """The clip by a seek in the file, or None where no backend can seek in it exactly.

    The decoder's backend first; where libsndfile cannot seek exactly (Vorbis), FFmpeg."""
    opened = open_track(os.fspath(path), "auto")
    try:
        clip = _span(opened.source, sample_rate, first, count)
    finally:
        opened.source.close()
    src = opened.source
    if clip is not None or src.name != "soundfile" or src.codec in MPEG_CODECS:
        return clip
    try:
        alt = PyAVSource(os.fspath(path))
    except NotReadable:
        return None
    try:
        return _span(alt, sample_rate, first, count)
    finally:
        alt.close()


def _span(src: Source, sample_rate: int, first: int, count: int | None) -> np.ndarray | None:
    """Output samples ``[first, first + count)`` from the source's seek, resampled aligned."""
    rate_in = src.sample_rate
    step = math.gcd(rate_in, sample_rate)
    step_in, step_out = rate_in // step, sample_rate // step
    margin = 0 if rate_in == sample_rate else int(_MARGIN_S * sample_rate)
    lead = max(0, first - margin) // step_out  # whole steps: aligned with the full decode
    span = None
    if count is not None:
        span = -(-(first + count + margin - lead * step_out) * step_in // step_out)
    try:
        native = src.read_span(lead * step_in, span)
    except Exception:  # noqa: BLE001 - a damaged file: the streamed decode says what is wrong
        return None
    if native is None or _cut_short(native, src, lead * step_in, span):
        return None
    if rate_in == sample_rate:
        return native
    out = soxr.resample(native, rate_in, sample_rate, quality="HQ")
    skip = first - lead * step_out
    end = None if count is None else skip + count
    return np.ascontiguousarray(out[skip:end], dtype=np.float32)


def _cut_short(native: np.ndarray, src: Source, start: int, span: int | None) -> bool:
    """Nothing read, or less than the header's length leaves room for: past the end or a
    truncated file, which the streamed decode tells apart (and words as the decoder does)."""
    if len(native) == 0:
        return True
    if src.declared_frames is None:
        return False
    room = src.declared_frames - start if span is None else min(span, src.declared_frames - start)
    return room - len(native) > _TRUNCATION_SLACK_S * src.sample_rate


def _streamed(path: str | bytes | os.PathLike[str], sample_rate: int, first: int,
              count: int | None) -> np.ndarray:
    """The clip cut from the track streamed from its start; reading stops at the clip's end."""
    last = None if count is None else first + count
    pieces: list[np.ndarray] = []
    pos = 0
    blocks = decode_blocks(path, sample_rate=sample_rate, block_s=10.0)
    try:
        for block in blocks:
            lo = max(first - pos, 0)
            hi = len(block) if last is None else min(last - pos, len(block))
            if hi > lo:
                pieces.append(block[lo:hi].copy())
            pos += len(block)
            if last is not None and pos >= last:
                break
    finally:
        blocks.close()  # type: ignore[attr-defined]
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
