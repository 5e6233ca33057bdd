"""Keep C libraries that write straight to file descriptor 2 off the user's terminal.

Only mpg123 (inside libsndfile) needs this: PyAV already keeps FFmpeg's log to itself, and
audioread pipes its ffmpeg's stderr.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr: int | None = None


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while libsndfile's mpg123 runs.

    Why: mpg123 prints warnings ("Note: Illegal Audio-MPEG-Header ...", "Warning: Xing stream
    size off ...") straight to fd 2, below Python, with no switch in libsndfile to stop it.
    Re-entrant and shared between threads (the first caller redirects, the last restores). The
    cost: while an mp3 is read this way, other threads' stderr output is dropped too; decode
    therefore holds it only around each read call, never across a ``yield``.
    """
    global _quiet_depth, _saved_stderr
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
                _saved_stderr = saved
            except OSError:  # no fd 2 to save (daemon); nothing to silence then
                _saved_stderr = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr is not None:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = None


def _reset_after_fork() -> None:
    """A child forked while another thread had fd 2 silenced (a DataLoader starting workers)
    gets its stderr back; that thread does not exist in the child to restore it."""
    global _quiet_lock, _quiet_depth, _saved_stderr
    _quiet_lock = threading.Lock()
    if _quiet_depth and _saved_stderr is not None:
        os.dup2(_saved_stderr, 2)
        os.close(_saved_stderr)
    _quiet_depth, _saved_stderr = 0, None


os.register_at_fork(after_in_child=_reset_after_fork)
