"""Run the real ``tagger`` command in a subprocess, at a given terminal width."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tagger(*args: str, columns: int = 80, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m tagger ARGS`` with ``COLUMNS`` set (Rich sizes its output by it when the
    output is not a terminal, as it is here); text captured, never raises on exit codes."""
    full_env = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    full_env.pop("LINES", None)
    return subprocess.run([sys.executable, "-m", "tagger", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def widest(text: str) -> int:
    """The longest line of ``text``, in characters (what a terminal counts, for our output:
    box-drawing and block characters are one column each)."""
    return max((len(line) for line in text.splitlines()), default=0)
