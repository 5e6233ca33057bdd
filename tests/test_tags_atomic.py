"""``kill -9`` in the middle of tag writes leaves every file whole: old or new, never broken.

A child process runs ``tag_tracks`` over a library of every format in a loop, the store's
answer alternating between two instrument sets; the test kills it with SIGKILL at random
moments, several times, and after each kill every file must parse, hold one of the states it
was ever given, keep its other tags, and (at the end) hold exactly the original audio packets.
At least one kill must land mid-write (its temporary file left behind), or the test has not
exercised atomicity at all: it keeps killing, with other delays, until one does (bounded).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from test_tags_support import (
    VARIANTS, joined, make_library, other_tags, packets, raw_values, store_for,
)

from tagger.tags.files import remove_stale_temps

A = ["bass", "drums", "voice"]  # what the store says (see test_tags_support.INSTRUMENTS)...
B = ["bass", "drums", "flute", "voice"]  # ...and with flute present too: the tag grows
CHILD = """
import sys
from tagger.store.db import Store
from tagger.tags import tag_tracks
store = Store(sys.argv[1])
ids = [row[0] for row in store.conn.execute("SELECT id FROM tracks")]
i = 0
while True:
    store.conn.execute("UPDATE track_instruments SET coverage = ? WHERE instrument = 'flute'",
                       (0.5 if i % 2 == 0 else 0.0,))
    for outcome in tag_tracks(store, ids):
        assert not outcome.failed, outcome.error
    if i == 0:
        print("go", flush=True)
    i += 1
"""


def test_kill_9_during_writes_never_breaks_a_file(tmp_path: Path) -> None:
    lib = make_library(tmp_path / "music")
    before = {v: other_tags(p, v) for v, p in lib.items()}
    audio = {v: packets(p) for v, p in lib.items()}
    rng = random.Random(4)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    kills = mid_write = 0  # mid_write: kills that left a temporary file (a write in progress)
    for _round in range(40):
        if kills >= 6 and mid_write:
            break
        db = tmp_path / f"round{_round}.db"
        store_for(db, list(lib.values())).close()  # the files as they are now, as if rescanned
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"go\n", child.stderr.read().decode()
            # Later rounds try shorter delays too: a write is a small part of each pass.
            time.sleep(rng.uniform(0.0, 0.2 / (1 + _round // 6)))
        finally:
            child.kill()  # SIGKILL: no cleanup, no atexit, mid-write
            child.wait()
        kills += 1
        mid_write += any(".tagger-" in name for name in os.listdir(tmp_path / "music"))
        for variant, path in lib.items():
            values = raw_values(path, variant, "INSTRUMENTS")
            assert values in (joined(A), joined(B)), (variant, values)
            assert other_tags(path, variant) == before[variant], variant
    assert kills >= 6
    assert mid_write >= 1, f"none of {kills} kills landed while a file was being written"
    for variant, path in lib.items():
        assert packets(path) == audio[variant], variant
    print(f"{kills} kills, {mid_write} of them mid-write")
    remove_stale_temps(str(tmp_path / "music"))
    assert sorted(os.listdir(tmp_path / "music")) == sorted(p.name for p in lib.values())
    assert set(lib) == set(VARIANTS)
