"""A tiny Standard MIDI File writer, so the example library needs no MIDI dependency.

Each part is written to its own format-0 file and rendered to its own stem; that lets the
mixer set levels per part (lead louder) and keeps the ground truth per part exact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    """One note. Times are in beats (quarter notes) from the start of the track.

    ``lyric`` is only used by sung/spoken parts rendered with espeak-ng instead of MIDI.
    """

    start: float
    dur: float
    pitch: int
    vel: int = 90
    lyric: str | None = None

    @property
    def end(self) -> float:
        return self.start + self.dur


def _vlq(value: int) -> bytes:
    """Variable-length quantity, as the SMF format encodes delta times."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_midi(
    path: Path,
    notes: list[Note],
    *,
    bpm: float,
    program: int,
    channel: int = 0,
    bank: int = 0,
    pan: int = 64,
    reverb: int = 40,
    chorus: int = 0,
    volume: int = 100,
    tail_beats: float = 4.0,
) -> Path:
    """Write ``notes`` for one instrument as a format-0 SMF file.

    ``tail_beats`` of silence are added after the last note so fluidsynth keeps rendering the
    release and reverb tail instead of cutting the stem at the final note-off.
    """
    ch = channel & 0x0F
    tempo = int(round(60_000_000 / bpm))
    events: list[tuple[int, int, bytes]] = [
        (0, 0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
        (0, 0, bytes([0xB0 | ch, 0, bank & 0x7F])),
        (0, 0, bytes([0xC0 | ch, program & 0x7F])),
        (0, 0, bytes([0xB0 | ch, 7, volume & 0x7F])),
        (0, 0, bytes([0xB0 | ch, 10, pan & 0x7F])),
        (0, 0, bytes([0xB0 | ch, 91, reverb & 0x7F])),
        (0, 0, bytes([0xB0 | ch, 93, chorus & 0x7F])),
    ]
    last = 0
    for n in notes:
        on = max(0, int(round(n.start * TICKS_PER_BEAT)))
        off = max(on + 1, int(round(n.end * TICKS_PER_BEAT)))
        vel = max(1, min(127, int(n.vel)))
        # Sort key 1 for note-ons, 0 for note-offs: a repeated pitch ends before it restarts.
        events.append((on, 2, bytes([0x90 | ch, n.pitch & 0x7F, vel])))
        events.append((off, 1, bytes([0x80 | ch, n.pitch & 0x7F, 0])))
        last = max(last, off)
    events.sort(key=lambda e: (e[0], e[1]))
    body = bytearray()
    now = 0
    for tick, _, data in events:
        body += _vlq(tick - now) + data
        now = tick
    end = last + int(tail_beats * TICKS_PER_BEAT)
    body += _vlq(end - now) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    track = b"MTrk" + struct.pack(">I", len(body)) + bytes(body)
    path.write_bytes(header + track)
    return path
