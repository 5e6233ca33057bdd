"""Decode any track straight to the model's sample rate, in blocks, without printing anything.

This is the *decode ▸ resample ▸ mono* step of a scan (see DESIGN.md, "Data flow of a scan"). It
runs in DataLoader workers, so it must be fast (the whole scan targets >= 600x real time on two
cores), bounded in memory (a 3-hour track is streamed, peak ~ one block) and quiet.

- **Backends.** The format is sniffed from the file's first bytes (not its name), then backends
  are tried in the order measured fastest for that format (``benchmarks/bench_decode.py``):
  libsndfile via ``soundfile``, FFmpeg via PyAV, and ``audioread`` last. A backend that cannot
  *open* the file hands over to the next (:mod:`tagger.audio.opening`). If libsndfile fails or
  stops early part-way, FFmpeg takes over at the same sample (see :func:`_take_over`).
- **Resampling** is one ``soxr.ResampleStream`` per track, fed mono chunks: it keeps its filter
  state across chunks, so block boundaries add no clicks or gaps (tested against a one-shot
  resample), and it measured faster than FFmpeg's swresample run per frame from Python. A track
  that arrives in one chunk (a short file) takes one ``soxr.resample`` call instead: the same
  samples, without setting up a stream (see :func:`_stream`).
- **Mixdown** is the plain mean of all channels (LFE included), identical for every backend.
- **Errors** are one :class:`DecodeError` with a one-line message and a ``kind`` code. Nothing is
  printed: PyAV keeps FFmpeg's log off by default and mpg123's direct writes to fd 2 are
  redirected while libsndfile reads an mp3.

Damaged files. FFmpeg skips an undecodable packet as players do (up to
``backends.MAX_BAD_PACKETS``); the audio after it moves earlier by that packet. Beyond
that, or when a file ends more than 0.25 s (+0.1%) before the length its header declares
(truncation), iteration raises :class:`DecodeError` *after* the blocks decoded so far were
yielded: callers must treat the track as failed and drop what they received for it, so there
are no silent half-results. Where the header's length is only a guess (mp3 without a
Xing/Info/VBRI header, raw streams) a truncated file cannot be told from a short track and
decodes to whatever is there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from tagger.audio.backends import NotReadable, PyAVSource, first_line
from tagger.audio.opening import BACKENDS, DecodeError, OpenedTrack, open_track

__all__ = ["AudioInfo", "DecodeError", "decode", "decode_blocks", "probe", "BACKENDS"]

_TRUNCATION_SLACK_S = 0.25
_TRUNCATION_SLACK_FRACTION = 0.001

_PREALLOCATE_S = 1200  # decode() sizes its array from the header up to this, then grows


@dataclass
class AudioInfo:
    """Header facts about a track. ``duration_s`` is the header's value (an estimate for mp3
    files without a Xing/Info header); ``codec`` is a short name like ``mp3``, ``flac``,
    ``aac``, ``pcm_s16``."""

    duration_s: float
    sample_rate: int
    channels: int
    codec: str | None


def probe(path: str | bytes | os.PathLike[str], *, backend: str = "auto") -> AudioInfo:
    """Read a track's duration, rate, channels and codec from its headers, without decoding.

    Only when the header states no length (e.g. FLAC written to a pipe) is the file decoded to
    measure it, so the answer is never missing.
    """
    opened = open_track(os.fspath(path), backend)
    src = opened.source
    try:
        frames = src.declared_frames
        if frames is None:
            try:
                frames = sum(len(chunk) for chunk in src.chunks())
            except Exception as exc:
                raise DecodeError(f"truncated or corrupt {opened.label}: {first_line(exc)}",
                                  kind="corrupt") from exc  # fmt: skip
        return AudioInfo(frames / src.sample_rate, src.sample_rate, src.channels, src.codec)
    finally:
        src.close()


def decode_blocks(
    path: str | bytes | os.PathLike[str],
    *,
    sample_rate: int,
    block_s: float = 30.0,
    backend: str = "auto",
    notes: list[str] | None = None,
) -> Iterator[np.ndarray]:
    """Yield a track as mono float32 blocks at ``sample_rate``, each ``block_s`` long but the last.

    Streams: memory stays ~ one block plus one ~4 MB read, however long the track. Errors
    (including a missing file) are raised from iteration as :class:`DecodeError`; an error after
    some blocks means the track is bad, and those blocks must be dropped (see module docs).
    ``backend`` forces one backend with no fallback (for benchmarks and tests). Repairs made to
    the audio (NaN samples, anti-phase channels, see :mod:`tagger.audio.mix`) are appended to
    ``notes`` as short clauses once the track decoded completely.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    block = int(round(block_s * sample_rate))
    if block <= 0:
        raise ValueError(f"block_s={block_s} gives no samples at {sample_rate} Hz")
    opened = open_track(os.fspath(path), backend)
    try:
        yield from _stream(opened, sample_rate, block, notes)
    finally:
        opened.source.close()


def _stream(opened: OpenedTrack, sample_rate: int, block: int, notes: list[str] | None = None
            ) -> Iterator[np.ndarray]:
    """Resample the source's chunks and cut them into exact blocks; enforce the error policy.

    One chunk is held back until the next shows whether it was the last: a track that comes
    in one chunk (every short file) is resampled by one ``soxr.resample`` call, which gives the
    stream's samples bit for bit (tested) without setting up a stream, and its only block is
    that call's output, not a copy into a block-sized buffer.
    """
    rate_in = opened.source.sample_rate
    declared = opened.source.declared_frames
    resampler: soxr.ResampleStream | None = None
    out: np.ndarray | None = None
    fill = 0

    def cut(y: np.ndarray, final: bool = False) -> Iterator[np.ndarray]:
        nonlocal out, fill
        pos = 0
        while pos < len(y):
            if final and fill == 0 and len(y) - pos < block:  # the last, partial block
                out, fill = y[pos:], len(y) - pos
                return
            if out is None:
                out = np.empty(block, dtype=np.float32)
            n = min(block - fill, len(y) - pos)
            out[fill : fill + n] = y[pos : pos + n]
            fill += n
            pos += n
            if fill == block:
                yield out
                out = None
                fill = 0

    def resampled(x: np.ndarray, last: bool) -> Iterator[np.ndarray]:
        nonlocal resampler
        if rate_in == sample_rate:
            yield from cut(x, last)
        elif last and resampler is None:
            yield from cut(soxr.resample(x, rate_in, sample_rate, quality="HQ"), True)
        else:
            if resampler is None:
                resampler = soxr.ResampleStream(rate_in, sample_rate, 1, dtype="float32",
                                                quality="HQ")
            yield from cut(resampler.resample_chunk(x))
            if last:
                yield from cut(resampler.resample_chunk(np.zeros(0, np.float32), last=True),
                               True)

    def truncated() -> DecodeError | None:
        if not (opened.length_is_exact and declared):
            return None
        slack = _TRUNCATION_SLACK_S * rate_in + _TRUNCATION_SLACK_FRACTION * declared
        if declared - decoded <= slack:
            return None
        return DecodeError(
            f"truncated or corrupt {opened.label}: decoded {decoded / rate_in:.1f} s of the"
            f" {declared / rate_in:.1f} s its header declares",
            kind="corrupt",
        )

    decoded = 0  # input frames delivered, to resume elsewhere and to spot truncation
    held: np.ndarray | None = None  # the latest chunk, until we know whether it is the last
    chunks: Iterator[np.ndarray] = opened.source.chunks()
    while True:
        try:
            x = next(chunks, None)
        except Exception as exc:  # the backend failed mid-way: corrupt or cut data
            chunks = _take_over(opened, decoded, _failed_at(opened, exc), exc)
            continue
        if x is None:
            short = truncated()
            if short is not None and opened.can_take_over:  # libsndfile may just stop early
                chunks = _take_over(opened, decoded, short, None)
                continue
            break
        if not len(x):
            continue
        decoded += len(x)
        if held is not None:
            yield from resampled(held, False)
        held = x
    if held is not None:
        yield from resampled(held, True)
    if decoded == 0:
        raise DecodeError(f"no audio in this {opened.label} (0 samples)", kind="empty")
    short = truncated()
    if short is not None:
        raise short
    if opened.cut_short:
        raise DecodeError(f"truncated or corrupt {opened.label}: the file ends inside its Ogg"
                          f" stream (decoded {decoded / rate_in:.1f} s)", kind="corrupt")
    stats = opened.source.stats
    if stats.all_nonfinite:
        raise DecodeError(f"corrupt {opened.label}: every sample is NaN or infinite",
                          kind="corrupt")
    if notes is not None:
        notes.extend(stats.notes(rate_in))
    if fill and out is not None:
        yield out[:fill].copy() if len(out) - fill > 4096 else out[:fill]


def _failed_at(opened: OpenedTrack, exc: Exception) -> DecodeError:
    src = opened.source
    where = f"{src.position / src.sample_rate:.1f} s"
    if src.declared_frames:
        where += f" of {src.declared_frames / src.sample_rate:.1f} s"
    return DecodeError(
        f"truncated or corrupt {opened.label}: decoding failed at {where} ({first_line(exc)})",
        kind="corrupt",
    )


def _take_over(
    opened: OpenedTrack, decoded: int, failure: DecodeError, exc: Exception | None
) -> Iterator[np.ndarray]:
    """After libsndfile fails or stops early, let FFmpeg decode the rest, from the same sample.

    Why: libsndfile gives up at the first bad FLAC frame, and mpg123 may end an mp3 at a burst
    of garbage without an error, where FFmpeg skips the damage as players do; the result of
    ``auto`` should not depend on which backend happened to be faster for the format. Both
    decode FLAC/WAV exactly and mp3 gaplessly, so sample positions agree (tested); FFmpeg
    re-decodes the prefix to find the spot, which costs time only on damaged files.
    Otherwise ``failure`` is raised.
    """
    if not opened.can_take_over:
        raise failure from exc
    opened.can_take_over = False
    src = opened.source
    try:
        alt = PyAVSource(opened.path)
    except NotReadable:
        raise failure from exc
    if alt.sample_rate != src.sample_rate:
        alt.close()
        raise failure from exc
    src.close()
    alt.stats = src.stats  # the prefix is skipped before mixing, so counts carry on
    opened.source = alt
    return _guarded(alt.chunks(skip_frames=decoded), opened)


def _guarded(chunks: Iterator[np.ndarray], opened: OpenedTrack) -> Iterator[np.ndarray]:
    """Chunks from the FFmpeg take-over; its failures are final."""
    try:
        yield from chunks
    except Exception as exc:
        src = opened.source
        raise DecodeError(
            f"truncated or corrupt {opened.label}: decoding failed at"
            f" {src.position / src.sample_rate:.1f} s ({first_line(exc)})",
            kind="corrupt",
        ) from exc


def decode(
    path: str | bytes | os.PathLike[str], *, sample_rate: int, backend: str = "auto"
) -> np.ndarray:
    """The whole track as one mono float32 array at ``sample_rate``.

    Fills one array sized from the header's length (grown if the header was short), so a long
    track is held once, not once in blocks plus once concatenated.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    opened = open_track(os.fspath(path), backend)
    src = opened.source
    try:
        expected = (src.declared_frames or 0) * sample_rate // src.sample_rate
        # Capped, so a header claiming days of audio cannot allocate gigabytes up front.
        out = np.empty(min(expected, _PREALLOCATE_S * sample_rate) + 64, dtype=np.float32)
        n = 0
        for blk in _stream(opened, sample_rate, 1 << 20):
            if n + len(blk) > len(out):
                grown = np.empty(max(n + len(blk), len(out) * 3 // 2), dtype=np.float32)
                grown[:n] = out[:n]
                out = grown
            out[n : n + len(blk)] = blk
            n += len(blk)
    finally:
        opened.source.close()
    return out[:n].copy() if len(out) - n > 4096 else out[:n]


def import_codecs() -> None:
    """Import the decoding stack now (soxr with this module; libsndfile and FFmpeg, which the
    backends otherwise load at a process's first file).

    For the scan process once the head start has forked: the DataLoader workers forked from
    it later then start with them, where each imported them at its first track (~0.1-0.15 s
    of CPU per worker on the 2-core dev VM, at the busiest moment of a scan).
    """
    import av  # noqa: F401
    import soundfile  # noqa: F401
