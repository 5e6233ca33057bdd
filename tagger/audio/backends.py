"""Backends for :mod:`tagger.audio.decode`: each opens one file, yields mono float32 at its rate.

Why three backends: libsndfile (``soundfile``) is fast and exact for the formats it knows, PyAV
(bundled FFmpeg) reads everything else (m4a/aac, wma, ...), and ``audioread`` is the last resort
when a system FFmpeg knows a codec the bundled one lacks. :mod:`tagger.audio.decode` picks the
order per format from measured speed (see ``benchmarks/bench_decode.py``); this module only knows
how to read, mix down and report what each backend sees.

A backend's ``open`` raises :class:`NotReadable` when it cannot read the file at all (so the next
backend is tried); errors while reading samples propagate unchanged and are turned into a
``DecodeError`` by the caller, which knows how far decoding got.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from tagger.audio.mix import MixStats, columns, finish_mix, to_mono
from tagger.audio.quiet import stderr_silenced
from tagger.errors import TaggerError

# About 4 MiB of float32 per read, whatever the channel count, so a 192 kHz 8-channel file costs
# no more memory per step than a CD-quality one.
READ_SAMPLES = 1 << 20

# MPEG audio: FFmpeg seeks in it to an estimate; libsndfile exactly, in the mp3s decode gives it.
MPEG_CODECS = ("mp1", "mp2", "mp3")

# soundfile reports SF_COUNT_MAX (or 0) when the header carries no length (streamed FLAC).
_UNKNOWN_FRAMES = 1 << 62


class NotReadable(TaggerError):
    """This backend cannot open the file; ``no_audio`` marks a container without audio."""

    def __init__(self, reason: str, *, no_audio: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.no_audio = no_audio


class Damaged(TaggerError):
    """Too much of the stream could not be decoded to call the result the track."""


# FFmpeg skips an undecodable packet the way players do (a seam between joined mp3s, a burst of
# bit rot); more than this many, plus one per thousand packets, and the track is called damaged.
MAX_BAD_PACKETS = 10


class Source(Protocol):
    """An open file: header facts plus a generator of mono float32 chunks at ``sample_rate``."""

    name: str
    stats: MixStats
    sample_rate: int
    channels: int
    codec: str | None
    declared_frames: int | None  # length the header claims, None when it claims nothing
    position: int  # frames decoded so far, to say where a failure happened

    def chunks(self) -> Iterator[np.ndarray]: ...

    def read_span(self, first: int, count: int | None) -> np.ndarray | None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# soundfile (libsndfile)

_SF_CODECS = {
    "MPEG_LAYER_III": "mp3", "MPEG_LAYER_II": "mp2", "MPEG_LAYER_I": "mp1",
    "PCM_16": "pcm_s16", "PCM_24": "pcm_s24", "PCM_32": "pcm_s32", "PCM_S8": "pcm_s8",
    "PCM_U8": "pcm_u8", "FLOAT": "pcm_f32", "DOUBLE": "pcm_f64", "ULAW": "pcm_mulaw",
    "ALAW": "pcm_alaw",
}  # fmt: skip


class SoundfileSource:
    """libsndfile: wav/aiff/flac/ogg/opus/mp3. Reads into one reused buffer per file."""

    name = "soundfile"

    def __init__(self, path: str | bytes, *, quiet: bool) -> None:
        import soundfile as sf

        self._quiet = quiet
        try:
            with self._silence():
                # bytes path: soundfile cannot encode str names that are not valid UTF-8.
                self._fh = sf.SoundFile(os.fsencode(path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise NotReadable(first_line(exc)) from None
        fh = self._fh
        self.sample_rate, self.channels = int(fh.samplerate), int(fh.channels)
        if self.sample_rate <= 0 or self.channels <= 0:
            fh.close()
            raise NotReadable("no audio stream")
        frames = int(fh.frames)
        self.declared_frames = frames if 0 < frames < _UNKNOWN_FRAMES else None
        if fh.format in ("FLAC", "WAV", "AIFF", "WAVEX", "RF64", "W64", "CAF", "AU"):
            pcm = fh.format != "FLAC"
            self.codec = _SF_CODECS.get(fh.subtype, fh.subtype.lower()) if pcm else "flac"
        else:  # OGG/MPEG containers: the subtype is the codec (vorbis, opus, mp3)
            self.codec = _SF_CODECS.get(fh.subtype, fh.subtype.lower())
        self.position = 0
        self.stats = MixStats()

    def _silence(self) -> contextlib.AbstractContextManager[None]:
        return stderr_silenced() if self._quiet else contextlib.nullcontext()

    def chunks(self) -> Iterator[np.ndarray]:
        # A short file's buffer is its length (one read then the end), not ~4 MB: filling a
        # fresh 4-MB buffer cost a 5-s clip 1 ms of page faults. 16-bit PCM is read as int16
        # and scaled in the mixdown (the same floats): libsndfile's own conversion to float
        # cost 2 ms of the 2.3 ms a 5-s wav took to read.
        frames = max(4096, READ_SAMPLES // self.channels)
        if self.declared_frames is not None:
            frames = min(frames, self.declared_frames + 1)
        dtype = "int16" if self._fh.subtype == "PCM_16" else "float32"
        buf = np.empty((frames, self.channels), dtype=dtype)
        while True:
            with self._silence():
                got = self._fh.read(frames, dtype=dtype, always_2d=True, out=buf)
            if len(got) == 0:
                return
            self.position += len(got)
            yield to_mono(columns(got), self.stats)

    def read_span(self, first: int, count: int | None) -> np.ndarray | None:
        """Mono frames ``[first, first + count)`` (to the end if ``count`` is None) by seeking;
        shorter at the end, empty past it. None where the seek may miss the sample: Vorbis (in
        the last Ogg page it landed 48 samples late in our test; FFmpeg's is exact), MPEG audio
        in another container, files without a length (FLAC from a pipe). An mp3 reaches
        libsndfile only with a Xing/Info header that matches the file (:mod:`tagger.audio.
        decode`), and there mpg123's seek is exact (tested, CBR and VBR)."""
        mpeg_elsewhere = self.codec in MPEG_CODECS and self._fh.format != "MP3"
        if mpeg_elsewhere or self.codec == "vorbis" or self.declared_frames is None:
            return None
        if first >= self.declared_frames:
            return np.zeros(0, np.float32)
        with self._silence():
            self._fh.seek(first)
            got = self._fh.read(-1 if count is None else count, dtype="float32", always_2d=True)
        self.position = first + len(got)
        return to_mono(columns(got), self.stats)

    def close(self) -> None:
        self._fh.close()


# ---------------------------------------------------------------------------------------------
# PyAV (FFmpeg)

# Containers whose timestamps put each decoded frame on its exact sample: a seek, then dropping
# what precedes the wanted sample, gives what decoding from the start gives (tested; AAC's noise
# substitution draws other noise of the same spectrum after a seek). Not mp3 (an estimate, and
# no encoder delay skipped: 1105 samples off), asf/wma (millisecond timestamps), raw ADTS AAC.
_EXACT_SEEK_CONTAINERS = frozenset({"mov", "mp4", "m4a", "ogg", "flac", "wav", "aiff"})
# Decoded before the wanted sample after a seek, so the decoder's state is warm there (AAC's
# overlap needs one frame, Opus asks for 80 ms of pre-roll, Vorbis one block).
SEEK_PREROLL_S = 0.25


def _av_codec(name: str) -> str:
    """FFmpeg decoder names, made stable: mp3float -> mp3, pcm_s16le -> pcm_s16."""
    if name.endswith("float") and name != "float":
        name = name[: -len("float")]
    if name.startswith("pcm_") and name[-2:] in ("le", "be"):
        name = name[:-2]
    return name


class PyAVSource:
    """FFmpeg through PyAV: every container and codec FFmpeg knows; first audio stream only.

    PyAV ignores FFmpeg's log by default (nothing reaches the terminal); we leave that global
    setting alone rather than fight an application that chose otherwise.
    """

    name = "pyav"

    def __init__(self, path: str | bytes) -> None:
        import av

        try:
            self._container = av.open(os.fsdecode(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
            raise NotReadable(first_line(exc)) from None
        streams = self._container.streams.audio
        if not streams:
            self._container.close()
            raise NotReadable("no audio stream found", no_audio=True)
        self._stream = streams[0]
        ctx = self._stream.codec_context
        self.sample_rate, self.channels = int(ctx.sample_rate or 0), int(ctx.channels or 0)
        if self.sample_rate <= 0 or self.channels <= 0 or ctx.format is None:
            self._container.close()
            raise NotReadable("format not recognised")
        self.codec = _av_codec(ctx.name)
        st = self._stream
        self.declared_frames = (
            int(round(st.duration * st.time_base * self.sample_rate)) if st.duration else None
        )
        self._resampler: Any = None
        self._formats: dict[str, tuple[np.dtype[Any], bool]] = {}
        self.position = 0
        self.bad_packets = 0
        self.stats = MixStats()

    def _frame_channels(self, frame: Any) -> list[np.ndarray]:
        """One frame's channels as 1-D arrays (views of the frame for planar formats).

        Reads the planes directly and caches per-format facts: at ~2300 mp3 frames a minute,
        ``frame.to_ndarray()`` (an ``np.vstack``) and a few microseconds of attribute lookups
        per frame cost as much as half the decoding itself.
        """
        if frame.sample_rate != self.sample_rate:  # rate change mid-stream (joined mp3s)
            return self._resampled(frame)
        fmt = frame.format.name
        facts = self._formats.get(fmt)
        if facts is None:
            from av.audio.frame import format_dtypes

            facts = self._formats[fmt] = (np.dtype(format_dtypes[fmt]), frame.format.is_planar)
        dtype, planar = facts
        n = frame.samples
        if planar:
            return [np.frombuffer(p, dtype, n) for p in frame.planes]
        ch = frame.layout.nb_channels
        return columns(np.frombuffer(frame.planes[0], dtype, n * ch).reshape(n, ch))

    def _resampled(self, frame: Any) -> list[np.ndarray]:
        """Frames at another rate than the stream's first, brought to it. Rare (joined files);
        the resampler's last few milliseconds are not flushed."""
        import av

        if self._resampler is None:
            self._resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
        out = [f.to_ndarray() for f in self._resampler.resample(frame)]
        return list(np.concatenate(out, axis=1)) if out else []

    def _frames(self) -> Iterator[Any]:
        """Decoded frames, skipping undecodable packets (up to a limit) as FFmpeg's CLI does.

        PyAV's ``container.decode`` raises on the first bad packet; players play on. A file
        with a glitch still tags fine, and real damage is caught by the bad-packet limit and
        by ``tagger.audio.decode`` comparing the decoded length with the header's."""
        import av

        packets = 0
        for packet in self._container.demux(self._stream):
            packets += 1
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                self.bad_packets += 1
                if self.bad_packets > MAX_BAD_PACKETS + packets // 1000:
                    raise Damaged(f"{self.bad_packets} undecodable packets; {first_line(exc)}")
                continue
            yield from frames

    def chunks(self, skip_frames: int = 0) -> Iterator[np.ndarray]:
        """Mono chunks; ``skip_frames`` drops that many leading frames (to take over from
        another backend that failed part-way)."""
        # Frames are small (1152 samples for mp3). Each one is summed across channels straight
        # into a ~READ_SAMPLES buffer (one numpy call for stereo) and dropped, so FFmpeg can
        # reuse its frame buffers; scaling to [-1, 1] then happens once per buffer. Holding the
        # frames and mixing later measured ~15% slower (fresh buffers, page faults, a concat).
        cap = max(1 << 16, READ_SAMPLES // max(1, self.channels))
        out = np.empty(cap, np.float32)
        first = np.empty(cap, np.float32)  # channel 0 alone, in case the channels cancel
        pos = 0
        key: tuple[np.dtype[Any], int] | None = None
        for frame in self._frames():
            chans = self._frame_channels(frame)
            if not chans:
                continue
            n = len(chans[0])
            self.position += n
            if skip_frames:
                drop = min(skip_frames, n)
                skip_frames -= drop
                chans, n = [c[drop:] for c in chans], n - drop
                if n == 0:
                    continue
            new_key = (chans[0].dtype, len(chans))
            if pos and (new_key != key or pos + n > cap):
                yield self._mixed(out[:pos], first[:pos], key)  # type: ignore[arg-type]
                size, pos = max(cap, n), 0
                out, first = np.empty(size, np.float32), np.empty(size, np.float32)
            elif n > len(out):
                out, first = np.empty(n, np.float32), np.empty(n, np.float32)
            key = new_key
            seg = out[pos : pos + n]
            if len(chans) == 1:
                np.copyto(seg, chans[0], casting="unsafe")
            else:
                np.add(chans[0], chans[1], out=seg, dtype=np.float32)
                for c in chans[2:]:
                    np.add(seg, c, out=seg, dtype=np.float32)
                np.copyto(first[pos : pos + n], chans[0], casting="unsafe")
            pos += n
        if pos and key is not None:
            yield self._mixed(out[:pos], first[:pos], key)

    def read_span(self, first: int, count: int | None) -> np.ndarray | None:
        """Mono frames ``[first, first + count)`` (to the end if ``count`` is None) by seeking;
        shorter at the end, empty past it. None where FFmpeg's seek is not sample-exact (see
        ``_EXACT_SEEK_CONTAINERS``) or the seek landed after ``first``."""
        st, rate = self._stream, self.sample_rate
        exact = _EXACT_SEEK_CONTAINERS & set(self._container.format.name.split(","))
        if not exact or self.codec in MPEG_CODECS or st.time_base is None:
            return None
        origin = st.start_time or 0  # the pts of the first sample a full decode yields
        lead = max(0, first - int(SEEK_PREROLL_S * rate))
        if lead:  # else decode from the start: a seek to 0 skips the AAC priming packet
            self._container.seek(origin + int(lead / (rate * st.time_base)), stream=st)
        pieces: list[np.ndarray] = []
        end = None if count is None else first + count
        for frame in self._frames():
            if frame.pts is None:
                return None
            at = int(round((frame.pts - origin) * st.time_base * rate))
            if not pieces and at > first:
                return None  # landed after the wanted sample: no seek point before it
            chans = self._frame_channels(frame)
            if not chans or at + len(chans[0]) <= first:
                continue
            lo = max(0, first - at)
            hi = len(chans[0]) if end is None else min(len(chans[0]), end - at)
            pieces.append(to_mono([c[lo:hi] for c in chans], self.stats))
            self.position = at + hi
            if end is not None and at + hi >= end:
                break
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def _mixed(self, summed: np.ndarray, first: np.ndarray, key: tuple[np.dtype[Any], int]
               ) -> np.ndarray:
        dtype, channels = key
        return finish_mix(summed, dtype, channels, self.stats, first if channels > 1 else None)

    def close(self) -> None:
        self._container.close()


# ---------------------------------------------------------------------------------------------
# audioread (last resort: a system FFmpeg or the stdlib wave reader)


class AudioreadSource:
    """audioread: 16-bit interleaved PCM from whatever backend it finds on this system."""

    name = "audioread"

    def __init__(self, path: str | bytes) -> None:
        import audioread

        try:
            self._fh = audioread.audio_open(os.fsdecode(path))
        except Exception as exc:  # audioread raises anything, even ZeroDivisionError on junk
            raise NotReadable(first_line(exc)) from None
        self.sample_rate, self.channels = int(self._fh.samplerate), int(self._fh.channels)
        if self.sample_rate <= 0 or self.channels <= 0:
            self._fh.close()
            raise NotReadable("format not recognised")
        duration = float(self._fh.duration or 0.0)
        self.declared_frames = int(round(duration * self.sample_rate)) if duration > 0 else None
        self.codec = None
        self.position = 0
        self.stats = MixStats()

    def chunks(self) -> Iterator[np.ndarray]:
        step = 2 * self.channels
        want = max(4096, READ_SAMPLES // self.channels) * step
        buf = bytearray()
        for data in self._fh.read_data():
            buf += data
            if len(buf) >= want:
                yield self._take(buf, len(buf) - len(buf) % step)
        if len(buf) >= step:
            yield self._take(buf, len(buf) - len(buf) % step)

    def _take(self, buf: bytearray, nbytes: int) -> np.ndarray:
        """Mix down and remove the first ``nbytes`` of ``buf`` (whole frames of int16)."""
        pcm = np.frombuffer(bytes(buf[:nbytes]), "<i2").reshape(-1, self.channels)
        del buf[:nbytes]
        self.position += len(pcm)
        return to_mono(columns(pcm), self.stats)

    def read_span(self, first: int, count: int | None) -> np.ndarray | None:
        return None  # audioread cannot seek: the caller decodes from the start

    def close(self) -> None:
        self._fh.close()


def first_line(exc: BaseException) -> str:
    """One short line from a backend's exception, for a user-facing message.

    FFmpeg and libsndfile messages can span lines and carry noise ("[Errno 1094995529] ...:
    '/path'", "Error opening b'/path': ...", "Error : ..."); keep only what helps a user.
    """
    text = str(exc).strip()
    text = text.splitlines()[0].strip() if text else ""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r"^Error opening .*?: (?=[A-Z])", "", text)
    text = re.sub(r"^Error\s*:\s*", "", text)
    text = re.sub(r":\s*'[^']*'$", "", text).rstrip(". ")
    return text[:1].lower() + text[1:] if text else type(exc).__name__
