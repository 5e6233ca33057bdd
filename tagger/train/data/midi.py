"""A tiny Standard MIDI File writer and reader: just what rendering stems needs.

Why not mido or music21's exporter: we need exact control of channels, programs and controller
resets to render several parts back to back in one fluidsynth run (one SoundFont load), and to
split mma's multi-channel output into one part per channel. That is ~150 lines, no dependency.
Times are in seconds throughout; the writer uses a fixed tempo so seconds map straight to ticks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tagger.errors import TaggerError

PPQ = 960
TEMPO_US = 500_000  # 120 bpm: 1 tick = 1/1920 s
TICKS_PER_S = PPQ * 1_000_000 / TEMPO_US
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    """One note: start and duration in seconds, MIDI pitch, velocity 1-127."""

    start: float
    duration: float
    pitch: int
    velocity: int = 90


@dataclass
class Part:
    """Notes for one instrument on one channel. ``program`` is 0-based GM; ``bank`` 128 = drums."""

    notes: list[Note]
    program: int = 0
    channel: int = 0
    bank: int = 0

    @property
    def end(self) -> float:
        return max((n.start + n.duration for n in self.notes), default=0.0)


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_midi(parts: list[tuple[float, Part]]) -> bytes:
    """One format-0 MIDI file playing each ``(offset_s, part)`` from its offset.

    Every part starts with a controller reset, bank and program change on its channel, so parts
    placed back to back on the same channel do not inherit each other's settings.
    """
    events: list[tuple[int, int, bytes]] = []  # (tick, order, bytes); order puts offs first
    for offset, part in parts:
        ch = part.channel & 0x0F
        t0 = max(0, int(round((offset - 0.02) * TICKS_PER_S)))
        setup = [bytes([0xB0 | ch, 121, 0]), bytes([0xB0 | ch, 0, 0 if part.bank == 128 else
                                                      part.bank & 0x7F]),
                 bytes([0xB0 | ch, 32, 0]), bytes([0xC0 | ch, part.program & 0x7F]),
                 bytes([0xB0 | ch, 7, 100]), bytes([0xB0 | ch, 11, 127]),
                 bytes([0xB0 | ch, 10, 64]), bytes([0xB0 | ch, 64, 0])]
        events += [(t0, 0, e) for e in setup]
        for n in part.notes:
            if n.duration <= 0 or not 0 <= n.pitch <= 127:
                continue
            on = int(round((offset + n.start) * TICKS_PER_S))
            off = max(on + 1, int(round((offset + n.start + n.duration) * TICKS_PER_S)))
            vel = max(1, min(127, int(n.velocity)))
            events.append((on, 2, bytes([0x90 | ch, n.pitch, vel])))
            events.append((off, 1, bytes([0x80 | ch, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    body = bytearray(b"\x00\xff\x51\x03" + TEMPO_US.to_bytes(3, "big"))
    last = 0
    for tick, _, data in events:
        body += _vlq(tick - last) + data
        last = tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ)
    return header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


class MidiError(TaggerError, ValueError):
    """A file that is not a Standard MIDI File we can read."""


def _read_vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= len(data):
            raise MidiError("truncated variable-length number")
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


@dataclass
class _Raw:
    tick: int
    status: int
    a: int = 0
    b: int = 0
    tempo: int | None = None


def _parse_track(data: bytes) -> list[_Raw]:
    out: list[_Raw] = []
    pos, tick, running = 0, 0, 0
    while pos < len(data):
        delta, pos = _read_vlq(data, pos)
        tick += delta
        status = data[pos]
        if status == 0xFF:  # meta
            kind = data[pos + 1]
            length, pos = _read_vlq(data, pos + 2)
            if kind == 0x51 and length == 3:
                out.append(_Raw(tick, 0xFF, tempo=int.from_bytes(data[pos : pos + 3], "big")))
            pos += length
            continue
        if status in (0xF0, 0xF7):  # sysex
            length, pos = _read_vlq(data, pos + 1)
            pos += length
            continue
        if status & 0x80:
            running = status
            pos += 1
        elif not running:
            raise MidiError("data byte without a status")
        kind = running & 0xF0
        n_data = 1 if kind in (0xC0, 0xD0) else 2
        a = data[pos]
        b = data[pos + 1] if n_data == 2 else 0
        pos += n_data
        out.append(_Raw(tick, running, a, b))
    return out


@dataclass
class ChannelPart:
    """What one (channel, program) played in a file read back; times in seconds."""

    channel: int
    program: int
    bank: int
    notes: list[Note] = field(default_factory=list)


def read_midi(data: bytes) -> list[ChannelPart]:
    """Split a MIDI file into one part per (channel, program), with note times in seconds."""
    if data[:4] != b"MThd":
        raise MidiError("not a MIDI file (no MThd header)")
    _, _, n_tracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise MidiError("SMPTE time division is not supported")
    pos, raws = 14, []
    for _ in range(n_tracks):
        if data[pos : pos + 4] != b"MTrk":
            raise MidiError("missing MTrk chunk")
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        raws.extend(_parse_track(data[pos + 8 : pos + 8 + length]))
        pos += 8 + length
    raws.sort(key=lambda r: r.tick)
    # tick -> seconds through the tempo map
    tempos = [(0, TEMPO_US)] + [(r.tick, r.tempo) for r in raws if r.tempo is not None]
    marks: list[tuple[int, float, int]] = []  # (tick, seconds at tick, tempo)
    sec, last_tick, cur = 0.0, 0, TEMPO_US
    for t, tempo in tempos:
        sec += (t - last_tick) * cur / 1e6 / division
        marks.append((t, sec, tempo))
        last_tick, cur = t, tempo

    def seconds(tick: int) -> float:
        m = marks[0]
        for mk in marks:
            if mk[0] > tick:
                break
            m = mk
        return m[1] + (tick - m[0]) * m[2] / 1e6 / division

    program = [0] * 16
    bank = [0] * 16
    parts: dict[tuple[int, int], ChannelPart] = {}
    active: dict[tuple[int, int], tuple[float, int, int]] = {}
    for r in raws:
        if r.tempo is not None:
            continue
        kind, ch = r.status & 0xF0, r.status & 0x0F
        if kind == 0xC0:
            program[ch] = r.a
        elif kind == 0xB0 and r.a == 0:
            bank[ch] = r.b
        elif kind == 0x90 and r.b > 0:
            active[(ch, r.a)] = (seconds(r.tick), r.b, program[ch])
        elif kind == 0x80 or (kind == 0x90 and r.b == 0):
            started = active.pop((ch, r.a), None)
            if started is None:
                continue
            t0, vel, prog = started
            part = parts.setdefault((ch, prog), ChannelPart(ch, prog, 128 if ch == DRUM_CHANNEL
                                                            else bank[ch]))
            part.notes.append(Note(t0, max(0.01, seconds(r.tick) - t0), r.a, vel))
    return [p for _, p in sorted(parts.items()) if p.notes]
