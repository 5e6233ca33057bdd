"""Band tracks: jazz quartet, rock, funk with trumpet, synth pop with vocals, organ trio.

Each function builds one track from a fixed seed. Sections are spelled out bar by bar so the
arrangement (who enters when, who leads) is readable here and ends up exactly in ANSWERS.json.
"""

from __future__ import annotations

from .compose import (BLUES, MINOR, MIXO, Chord, Note, Part, chords, comp, drums, humanize,
                      melody, near, root_bass, walking_bass, arpeggio, RHYTHMS_SLOW)
from .render import drum_part, seeded
from .track import Track, final_chord, final_note, with_lyrics

SWING_COMP = [(0, 1.2), (1 + 2 / 3, 0.9)]
SWING_RHYTHMS = [
    [(0, 1), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 1.5)],
    [(0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)],
    [(0, 1.5), (1.5, 0.5), (2, 2)],
    [(0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 0.5), (3, 1)],
]


def blue_room() -> Track:
    """Jazz quartet, F blues: rhythm-section intro, sax head, piano solo, sax out-chorus."""
    rng = seeded(101)
    blues = chords("F7 Bb7 F7 F7 Bb7 Bb7 F7 D7 Gm7 C7 F7 C7")
    prog = blues[8:] + blues[:8]  # the intro (bars 0-3) is the blues' last four bars
    sax = Part("tenor sax", "saxophone", 66, gain_db=0.0, pan=50, reverb=50)
    piano = Part("piano", "piano", 0, gain_db=-7.0, pan=80, reverb=45)
    bass = Part("bass", "bass", 32, gain_db=-6.0, pan=64, reverb=25)
    kit = drum_part(gain_db=-10.0, kit=32)
    mel = dict(rhythms=SWING_RHYTHMS, swing=True, phrase_bars=4)
    sax.add(humanize(melody(prog, 4, 12, rng, BLUES, 5, 53, 75, **mel), rng), "foreground")
    sax.add(humanize(melody(prog, 28, 12, rng, BLUES, 5, 53, 77, **mel), rng), "foreground")
    sax.add(final_note(65, 40), "foreground")
    piano.add(humanize(comp(prog, 0, 16, SWING_COMP, 62, vel=62), rng))
    piano.add(humanize(melody(prog, 16, 12, rng, MIXO, 5, 65, 86, vel=84, **mel), rng),
              "foreground")
    piano.add(humanize(comp(prog, 16, 12, [(0, 1.5)], 55, vel=55, size=3), rng))
    piano.add(humanize(comp(prog, 28, 12, SWING_COMP, 62, vel=62), rng))
    piano.add(final_chord(Chord(5, "7"), 40, 62))
    bass.add(humanize(walking_bass(prog, 0, 40, rng), rng, t=0.008))
    bass.add(final_note(near(5, 36), 40))
    kit.add(drums("swing", 0, 40, rng, fill_every=12, vel=90))
    kit.add([Note(160, 2.0, 49, 90), Note(160, 0.5, 36, 80)])
    return Track("01-blue-room-sax-quartet.mp3", "Blue Room", "The Example Quartet", "Jazz",
                 150, 41, [sax, piano, bass, kit],
                 notes="Rhythm section intro; tenor sax head at bar 5; piano solo (sax out); "
                       "sax returns for the last chorus.")


def power_chords(prog: list[Chord], start_bar: int, bars: int, vel: int = 100) -> list[Note]:
    """Palm-muted eighth-note power chords (root, fifth, octave), accents on 1 and the and of 3."""
    out = []
    for bar in range(start_bar, start_bar + bars):
        root = near(prog[bar % len(prog)].root, 42)
        for i in range(8):
            accent = i in (0, 5)
            for p in (root, root + 7, root + 12):
                out.append(Note(bar * 4 + i / 2, 0.45 if accent else 0.3, p,
                                vel if accent else vel - 22))
    return out


def overdrive() -> Track:
    """Rock: drum intro, distorted riff, organ joins, overdriven guitar solo, outro."""
    rng = seeded(202)
    prog = chords("E5 G5 D5 A5")
    rhythm = Part("rhythm guitar", "electric_guitar", 30, gain_db=-2.0, pan=40, reverb=25)
    lead = Part("lead guitar", "electric_guitar", 29, gain_db=0.0, pan=80, reverb=50)
    organ = Part("organ", "organ", 18, gain_db=-9.0, pan=90, reverb=40, chorus=30)
    bass = Part("bass", "bass", 34, gain_db=-5.0, reverb=15)
    kit = drum_part(gain_db=-5.0, kit=0)
    rhythm.add(humanize(power_chords(prog, 2, 16), rng, t=0.008), "foreground")
    rhythm.add(humanize(power_chords(prog, 18, 8, vel=90), rng, t=0.008))
    rhythm.add(humanize(power_chords(prog, 26, 2), rng, t=0.008), "foreground")
    rhythm.add(final_chord(Chord(4, "5"), 28, 45, size=2, vel=105), "foreground")
    organ.add(humanize(comp(prog, 10, 16, [(0, 3.8)], 64, vel=72), rng))
    lead.add(humanize(melody(prog, 18, 8, rng, (0, 3, 5, 7, 10), 4, 59, 84, vel=100,
                             phrase_bars=2), rng), "foreground")
    eighths = [(i / 2, 0.4) for i in range(8)]
    bass.add(humanize(root_bass(prog, 2, 26, eighths, low=36, vel=95), rng, t=0.006))
    bass.add(final_note(near(4, 38), 28))
    kit.add(drums("rock", 0, 28, rng, fill_every=8))
    kit.add([Note(112, 2.0, 49, 110), Note(112, 0.5, 36, 110)])
    return Track("02-overdrive-rock.ogg", "Overdrive", "Example Garage", "Rock", 126, 29,
                 [rhythm, lead, organ, bass, kit],
                 notes="Two bars of drums, then the riff; organ from bar 11; guitar solo from "
                       "bar 19.")


def funk_bass(prog: list[Chord], start_bar: int, bars: int) -> list[Note]:
    """Syncopated root-octave funk line."""
    hits = [(0, 0.4, 0), (0.75, 0.2, 0), (1.5, 0.3, 12), (2, 0.4, 0), (2.75, 0.2, 10),
            (3.25, 0.2, 12), (3.5, 0.4, 7)]
    out = []
    for bar in range(start_bar, start_bar + bars):
        root = near(prog[bar % len(prog)].root, 38)
        out += [Note(bar * 4 + t, d, root + iv, 96 if t == 0 else 84) for t, d, iv in hits]
    return out


def brass_street() -> Track:
    """Funk: band vamp, trumpet melody, piano takes a solo, trumpet back."""
    rng = seeded(303)
    prog = chords("Cm7 F7")
    trumpet = Part("trumpet", "trumpet", 56, gain_db=0.0, pan=60, reverb=45)
    piano = Part("piano", "piano", 0, gain_db=-7.0, pan=85, reverb=35)
    bass = Part("bass", "bass", 33, gain_db=-5.0, reverb=15)
    kit = drum_part(gain_db=-7.0)
    stabs = [(0, 0.3), (0.75, 0.3), (2.5, 0.3), (3.25, 0.5)]
    dorian = (0, 2, 3, 5, 7, 9, 10)
    piano.add(humanize(comp(prog, 0, 12, stabs, 66, vel=72), rng))
    piano.add(humanize(melody(prog, 12, 4, rng, dorian, 0, 67, 88, vel=88, phrase_bars=2), rng),
              "foreground")
    piano.add(humanize(comp(prog, 12, 4, [(0, 0.5)], 55, vel=60, size=3), rng))
    piano.add(humanize(comp(prog, 16, 6, stabs, 66, vel=72), rng))
    piano.add(final_chord(Chord(0, "m7"), 22, 64))
    trumpet.add(humanize(melody(prog, 4, 8, rng, dorian, 0, 62, 79, phrase_bars=2), rng),
                "foreground")
    trumpet.add(humanize(melody(prog, 16, 6, rng, dorian, 0, 64, 81, phrase_bars=2), rng),
                "foreground")
    trumpet.add(final_note(72, 22), "foreground")
    bass.add(humanize(funk_bass(prog, 0, 22), rng, t=0.006))
    bass.add(final_note(36, 22))
    kit.add(drums("funk", 0, 22, rng, fill_every=4))
    kit.add([Note(88, 2.0, 49, 105), Note(88, 0.5, 36, 105)])
    return Track("06-brass-street-trumpet.mp3", "Brass Street", "Example Horns", "Funk", 104, 23,
                 [trumpet, piano, bass, kit], soundfont="TimGM6mb.sf2",
                 notes="Band vamp; trumpet from bar 5; piano solo bars 13-16; trumpet returns.")


VERSE = ("city lights are calling out my name tonight "
         "running through the rain until the morning light").split()
CHORUS = "oh oh neon lines we shine we shine all night".split()


def neon_lines() -> Track:
    """Synth pop: synth intro, sung verse, chorus with choir, synth solo, last chorus."""
    rng = seeded(404)
    prog = chords("Am F C G")
    vocal = Part("lead vocal", "voice", 0, gain_db=0.0, voice="en-us+f3")
    choir = Part("choir", "voice", 53, gain_db=-8.0, pan=64, reverb=70)
    lead = Part("saw lead", "synth", 81, gain_db=-1.0, pan=70, reverb=45)
    arp = Part("arp", "synth", 80, gain_db=-10.0, pan=45, reverb=40)
    pad = Part("pad", "synth", 89, gain_db=-11.0, reverb=60)
    bass = Part("bass", "bass", 33, gain_db=-5.0, reverb=10)
    kit = drum_part(gain_db=-6.0, kit=24)
    arp.add(humanize(arpeggio(prog, 0, 4, [0, 2, 4, 2], 0.5, 57, vel=80), rng), "foreground")
    arp.add(humanize(arpeggio(prog, 4, 20, [0, 2, 4, 2], 0.5, 57, vel=70), rng))
    pad.add(comp(prog, 0, 24, [(0, 3.9)], 62, vel=70))
    pad.add(final_chord(Chord(9, "min"), 24, 62))
    sing = dict(rhythms=RHYTHMS_SLOW, phrase_bars=2, vel=100)
    verse = melody(prog, 4, 8, rng, MINOR, 9, 60, 72, **sing)
    chorus1 = melody(prog, 12, 4, rng, MINOR, 9, 64, 76, **sing)
    chorus2 = [Note(n.start + 32, n.dur, n.pitch, n.vel) for n in chorus1]
    vocal.add(with_lyrics(verse, VERSE) + with_lyrics(chorus1 + chorus2, CHORUS), "foreground")
    choir.add(comp(prog, 12, 4, [(0, 3.8)], 67, vel=75, size=3))
    choir.add(comp(prog, 20, 4, [(0, 3.8)], 67, vel=75, size=3))
    lead.add(humanize(melody(prog, 16, 4, rng, MINOR, 9, 69, 88, vel=100, phrase_bars=2), rng),
             "foreground")
    bass.add(humanize(root_bass(prog, 2, 22, [(i / 2, 0.4) for i in range(8)], low=33), rng))
    bass.add(final_note(near(9, 36), 24))
    kit.add(drums("pop", 2, 22, rng, fill_every=4))
    return Track("08-neon-lines-synth-pop.m4a", "Neon Lines", "Example Synth Club",
                 "Synth-pop", 116, 25, [vocal, choir, lead, arp, pad, bass, kit],
                 notes="Synth intro; espeak-ng vocal from bar 5; choir in the choruses; saw-lead "
                       "solo bars 17-20.")


def organ_trio() -> Track:
    """Organ trio blues in Bb: organ intro riff, jazz guitar melody over organ and drums."""
    rng = seeded(505)
    blues = chords("Bb7 Eb7 Bb7 Bb7 Eb7 Eb7 Bb7 G7 Cm7 F7 Bb7 F7")
    prog = blues[10:] + blues[:10]  # two-bar turnaround as intro
    guitar = Part("jazz guitar", "electric_guitar", 26, gain_db=0.0, pan=45, reverb=40)
    organ = Part("organ", "organ", 16, gain_db=-6.0, pan=80, reverb=40, chorus=40)
    bass = Part("bass", "bass", 32, gain_db=-7.0)
    kit = drum_part(gain_db=-10.0, kit=32)
    mel = dict(rhythms=SWING_RHYTHMS, swing=True, phrase_bars=4)
    organ.add(humanize(melody(prog, 0, 2, rng, BLUES, 10, 62, 82, **mel), rng), "foreground")
    organ.add(humanize(comp(prog, 2, 12, SWING_COMP, 62, vel=66), rng))
    organ.add(final_chord(Chord(10, "7"), 14, 62))
    guitar.add(humanize(melody(prog, 2, 12, rng, BLUES, 10, 55, 74, **mel), rng), "foreground")
    guitar.add(final_note(70, 14), "foreground")
    bass.add(humanize(walking_bass(prog, 0, 14, rng), rng, t=0.008))
    bass.add(final_note(near(10, 36), 14))
    kit.add(drums("swing", 0, 14, rng, fill_every=12, vel=90))
    return Track("11-organ-trio.wma", "Organ Trio", "Example Hammond Club", "Jazz", 138, 15,
                 [guitar, organ, bass, kit], soundfont="TimGM6mb.sf2",
                 notes="Organ plays the intro riff, then comps under the jazz guitar melody.")
