"""Missing tools and packages: one error type whose message says exactly what to install.

The data engine leans on Debian packages (fluidsynth, SoundFonts, mma, drum kits) and on the
PyPI package music21; a bare ``FileNotFoundError`` deep in a build would not tell anyone which.
"""

from __future__ import annotations

import shutil

from tagger.errors import TaggerError

INSTALL_HINT = "scripts/install-system-packages.sh scripts/system-packages-train.txt"


class MissingDependency(TaggerError, RuntimeError):
    """A tool, SoundFont or package the data engine needs is not installed."""


def require_tool(tool: str, package: str) -> str:
    """Path of ``tool`` on PATH, or a :class:`MissingDependency` naming its Debian package."""
    path = shutil.which(tool)
    if path is None:
        raise MissingDependency(f"'{tool}' is not installed; install the Debian package "
                                f"'{package}' ({INSTALL_HINT})")
    return path


def require_music21():  # -> module
    """Import music21 or say how to install it (it is in tagger's ``train`` extra)."""
    try:
        import music21
    except ImportError as exc:
        raise MissingDependency("music21 is not installed; install it with "
                                "pip install 'tagger[train]' (or pip install music21)") from exc
    return music21
