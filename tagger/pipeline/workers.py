"""What every decode process of a scan shares: which track it takes next, and its lifetime.

``TrackClaims`` hands out track indices one at a time from a counter in shared memory, so the
head start and the DataLoader workers (forked later) never decode a track twice, and a worker
that drew long tracks does not hold up the end of a scan while the others idle (a fixed
round-robin share did). ``die_with_parent`` ends a decode process with the scan. No torch.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time


class TrackClaims:
    """Track indices ``0 .. count-1``, each handed out once across every process forked after
    this is made (or given it when spawned)."""

    def __init__(self, count: int):
        self.count = count
        self._next = multiprocessing.get_context().Value("q", 0)

    def next(self) -> int | None:
        """The next unclaimed track, or None when all are taken."""
        with self._next.get_lock():
            index = self._next.value
            if index >= self.count:
                return None
            self._next.value = index + 1
        return index

    def claimed(self) -> int:
        """How many tracks have been handed out so far."""
        return min(self._next.value, self.count)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int, worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn`` (and the head start's first call): end this process as
    soon as the scan process dies, and leave Ctrl-C to the scan process.

    Why: PyTorch's workers notice a dead parent only between items (every 5 s at best, never
    while decoding a long track), so a scan killed with ``kill -9`` left its workers running.
    On Linux the kernel sends SIGKILL (workers hold nothing worth saving); elsewhere a thread
    polls the parent. Use as ``functools.partial(die_with_parent, os.getpid())``.
    """
    # Ctrl-C reaches the whole foreground group: only the scan process answers it (it saves
    # the finished tracks and stops its workers); a worker dying of it first turned the
    # interrupt into a failed scan.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
