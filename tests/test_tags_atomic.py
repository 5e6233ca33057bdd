"""``kill -9`` in the middle of tag writes leaves every file whole: old or new, never broken.

A child process rewrites a library of every format in a loop (alternating two value sets);
the test kills it with SIGKILL at random moments, several times, and after each kill every
file must parse, hold one of the states it was ever given, keep its other tags, and (at the
end) hold exactly the original audio packets.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from test_tags_support import VARIANTS, make_library, other_tags, packets, raw_values

from tagger.tags.files import remove_stale_temps

A = ["bass", "drums"]
B = ["cello", "flute", "piano", "violin"]  # longer: tags grow and shrink across writes
CHILD = """
import sys
from tagger.tags import update_file
paths = sys.argv[1:]
i = 0
while True:
    values = {"INSTRUMENTS": %r if i %% 2 else %r, "INSTRUMENTS_MODEL": ["m-%%d" %% i]}
    for p in paths:
        update_file(p, values=values)
    if i == 0:
        print("go", flush=True)
    i += 1
""" % (A, B)


def test_kill_9_during_writes_never_breaks_a_file(tmp_path: Path) -> None:
    lib = make_library(tmp_path / "music")
    before = {v: other_tags(p, v) for v, p in lib.items()}
    audio = {v: packets(p) for v, p in lib.items()}
    rng = random.Random(4)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    kills = 0
    for _round in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, lib.values())],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"go\n", child.stderr.read().decode()
            time.sleep(rng.uniform(0.0, 0.2))
        finally:
            child.kill()  # SIGKILL: no cleanup, no atexit, mid-write
            child.wait()
        kills += 1
        for variant, path in lib.items():
            values = raw_values(path, variant, "INSTRUMENTS")
            assert values in (A, B), (variant, values)
            assert other_tags(path, variant) == before[variant], variant
    assert kills == 6
    for variant, path in lib.items():
        assert packets(path) == audio[variant], variant
    print("stale temp files cleared:", remove_stale_temps(str(tmp_path / "music")))
    assert sorted(os.listdir(tmp_path / "music")) == sorted(p.name for p in lib.values())
    assert set(lib) == set(VARIANTS)
