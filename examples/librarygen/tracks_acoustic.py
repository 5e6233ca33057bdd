"""Acoustic and small-ensemble tracks: solo piano, string duo, flute and guitar, clarinet with
strings, organ with choir, and a sung folk song.

Like ``tracks_band``, each function is one seeded track with its sections spelled out.
"""

from __future__ import annotations

from .compose import (MAJOR, MINOR, RHYTHMS_SLOW, Chord, Part, arpeggio, chords, comp,
                      humanize, melody, near)
from .render import seeded
from .track import Track, final_chord, final_note, with_lyrics


def night_study() -> Track:
    """Solo piano in A minor: left-hand arpeggios alone, then a right-hand melody."""
    rng = seeded(111)
    prog = chords("Am F C G Am F E7 Am")
    left = Part("piano left hand", "piano", 0, gain_db=-5.0, reverb=55)
    right = Part("piano right hand", "piano", 0, gain_db=0.0, reverb=55)
    left.add(humanize(arpeggio(prog, 0, 10, [0, 2, 3, 4, 5, 4, 3, 2], 0.5, 45, vel=60,
                               ring=2.5), rng, t=0.01), "foreground")
    left.add(final_chord(Chord(9, "min"), 10, 52, beats=4, size=3), "foreground")
    right.add(humanize(melody(prog, 2, 8, rng, MINOR, 9, 64, 84, rhythms=RHYTHMS_SLOW,
                              phrase_bars=4, vel=80), rng), "foreground")
    right.add(final_note(69, 10, beats=4, vel=70), "foreground")
    return Track("03-night-study-piano.flac", "Night Study", "Example Pianist", "Classical", 84, 11,
                 [right, left], tail_s=3.0,
                 notes="Solo piano: two bars of left hand, then the melody enters.")


def duet_in_d() -> Track:
    """Violin and cello: cello alone, violin melody, cello takes the tune, both to the end."""
    rng = seeded(222)
    prog = chords("D A Bm F#m G D G A")
    violin = Part("violin", "violin", 40, gain_db=0.0, pan=40, reverb=65)
    cello = Part("cello", "cello", 42, gain_db=-3.0, pan=88, reverb=65)
    cello.add(humanize(arpeggio(prog, 0, 4, [0, 2, 4, 2], 1.0, 38, vel=78), rng), "foreground")
    cello.add(humanize(arpeggio(prog, 4, 8, [0, 2, 4, 2], 1.0, 38, vel=68), rng))
    cello.add(humanize(melody(prog, 12, 4, rng, MAJOR, 2, 48, 64, rhythms=RHYTHMS_SLOW,
                              phrase_bars=2, vel=88), rng), "foreground")
    cello.add(humanize(arpeggio(prog, 16, 4, [0, 2, 4, 2], 1.0, 38, vel=68), rng))
    cello.add(final_note(near(2, 40), 20, beats=4))
    violin.add(humanize(melody(prog, 4, 8, rng, MAJOR, 2, 67, 88, phrase_bars=4), rng),
               "foreground")
    violin.add(humanize(comp(prog, 12, 4, [(0, 1.9), (2, 1.9)], 69, vel=60, size=2), rng))
    violin.add(humanize(melody(prog, 16, 4, rng, MAJOR, 2, 69, 90, phrase_bars=4), rng),
               "foreground")
    violin.add(final_note(74, 20, beats=4), "foreground")
    return Track("04-duet-in-d-strings.m4a", "Duet in D", "Example String Duo", "Classical", 92, 21,
                 [violin, cello], tail_s=3.0,
                 notes="Cello alone for 4 bars; violin melody; cello melody bars 13-16 with the "
                       "violin accompanying; violin leads to the end.")


def morning_walk() -> Track:
    """Flute over fingerpicked nylon guitar; the guitar starts and ends alone."""
    rng = seeded(333)
    prog = chords("G Em C D G Em Am D")
    flute = Part("flute", "flute", 73, gain_db=0.0, pan=56, reverb=55)
    guitar = Part("nylon guitar", "acoustic_guitar", 24, gain_db=-4.0, pan=72, reverb=40)
    pattern = [0, 2, 3, 4, 5, 4, 3, 2]
    guitar.add(humanize(arpeggio(prog, 0, 4, pattern, 0.5, 43, vel=80, ring=2.0), rng),
               "foreground")
    guitar.add(humanize(arpeggio(prog, 4, 12, pattern, 0.5, 43, vel=70, ring=2.0), rng))
    guitar.add(humanize(arpeggio(prog, 16, 2, pattern, 0.5, 43, vel=80, ring=2.0), rng),
               "foreground")
    guitar.add(final_chord(Chord(7, "maj"), 18, 55, size=3), "foreground")
    flute.add(humanize(melody(prog, 4, 12, rng, MAJOR, 7, 74, 93, phrase_bars=4), rng),
              "foreground")
    return Track("05-morning-walk-flute-guitar.opus", "Morning Walk", "Example Garden Duo",
                 "Folk", 100, 19, [flute, guitar],
                 notes="Guitar intro (4 bars), flute melody bars 5-16, guitar alone to the end.")


def chamber_air() -> Track:
    """Clarinet with a string trio (two violins, cello); violin I takes over the tune midway."""
    rng = seeded(444)
    prog = chords("F Dm Bb C F Am Bb C")
    clarinet = Part("clarinet", "clarinet", 71, gain_db=0.0, pan=60, reverb=60)
    vln1 = Part("violin I", "violin", 40, gain_db=-6.0, pan=35, reverb=60)
    vln2 = Part("violin II", "violin", 40, gain_db=-9.0, pan=50, reverb=60)
    cello = Part("cello", "cello", 42, gain_db=-7.0, pan=90, reverb=60)
    long = [(0, 3.9)]
    for start, bars in ((0, 8), (10, 3)):
        vln1.add(humanize(comp(prog, start, bars, long, 72, vel=60, size=1), rng))
    vln2.add(humanize(comp(prog, 0, 13, long, 64, vel=58, size=2), rng))
    cello.add(humanize(arpeggio(prog, 0, 13, [0, 2], 2.0, 36, vel=70), rng))
    clarinet.add(humanize(melody(prog, 2, 6, rng, MAJOR, 5, 62, 82, rhythms=RHYTHMS_SLOW,
                                 phrase_bars=2), rng), "foreground")
    clarinet.add(humanize(melody(prog, 10, 3, rng, MAJOR, 5, 62, 82, rhythms=RHYTHMS_SLOW,
                                 phrase_bars=3), rng), "foreground")
    clarinet.add(final_note(65, 13, beats=4), "foreground")
    vln1.add(humanize(melody(prog, 8, 2, rng, MAJOR, 5, 69, 88, rhythms=RHYTHMS_SLOW,
                             phrase_bars=2, vel=95), rng), "foreground")
    for part, center in ((vln1, 72), (vln2, 65), (cello, 41)):
        part.add(final_chord(Chord(5, "maj"), 13, center, beats=4, size=1))
    return Track("07-chamber-air-clarinet.opus", "Chamber Air", "Example Chamber Players",
                 "Classical", 76, 14, [clarinet, vln1, vln2, cello], tail_s=3.0,
                 notes="Strings alone for 2 bars; clarinet melody; violin I melody bars 9-10 "
                       "(clarinet rests); clarinet returns.")


def chapel() -> Track:
    """Church organ alone, then a choir (GM Choir Aahs) sings the chorale over it."""
    rng = seeded(555)
    prog = chords("C F G C Am F G C")
    organ = Part("church organ", "organ", 19, gain_db=-4.0, reverb=90)
    choir = Part("choir", "voice", 52, gain_db=0.0, reverb=90)
    organ.add(comp(prog, 0, 2, [(0, 1.95), (2, 1.95)], 60, vel=80, beats_per_chord=2),
              "foreground")
    organ.add(comp(prog, 2, 3, [(0, 1.95), (2, 1.95)], 55, vel=72, beats_per_chord=2))
    organ.add(final_chord(Chord(0, "maj"), 5, 55, beats=3))
    choir.add(humanize(melody(prog, 2, 3, rng, MAJOR, 0, 67, 79, rhythms=[[(0, 2), (2, 2)]],
                              phrase_bars=3, beats_per_chord=2, legato=1.0), rng, t=0.01),
              "foreground")
    choir.add(comp(prog, 2, 3, [(0, 1.95), (2, 1.95)], 60, vel=70, beats_per_chord=2, size=2))
    choir.add(final_chord(Chord(0, "maj"), 5, 64, beats=3, size=3), "foreground")
    return Track("09-chapel-organ-choir.wav", "Chapel", "Example Choir", "Sacred", 70, 6,
                 [choir, organ], tail_s=1.5, notes="Organ alone for two bars, then the choir.")


PORCH = ("sitting on the porch at the end of day watching all the river "
         "roll away").split()


def porch_song() -> Track:
    """Folk: strummed steel-string guitar, then a (espeak-ng) singer."""
    rng = seeded(666)
    prog = chords("G C G D")
    voice = Part("singer", "voice", 0, gain_db=0.0, voice="en-us+m3")
    guitar = Part("steel guitar", "acoustic_guitar", 25, gain_db=-5.0, reverb=40)
    strum = [(0, 1.0), (1, 0.5), (1.5, 0.5), (2.5, 0.5), (3, 0.5), (3.5, 0.5)]
    guitar.add(humanize(comp(prog, 0, 2, strum, 57, vel=85, size=5), rng), "foreground")
    guitar.add(humanize(comp(prog, 2, 6, strum, 57, vel=72, size=5), rng))
    guitar.add(final_chord(Chord(7, "maj"), 8, 57, beats=3, size=5))
    sung = melody(prog, 2, 6, rng, MAJOR, 7, 50, 62, rhythms=RHYTHMS_SLOW[2:3] + [
        [(0, 1), (1, 1), (2, 1), (3, 1)]], phrase_bars=2, vel=100)
    voice.add(with_lyrics(sung, PORCH), "foreground")
    return Track("10-porch-song-folk.aiff", "Porch Song", "Example Porch Band", "Folk", 100, 9,
                 [voice, guitar], tail_s=1.5, notes="Guitar for two bars, then the singer.")
