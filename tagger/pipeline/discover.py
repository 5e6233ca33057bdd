"""Find the audio files under the paths a user gives, robust to whatever a real disk holds.

Survives symlink loops, unreadable folders, vanished files and names that are not UTF-8. A track's
identity is its resolved path; duplicates reached through links are scanned once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    ".mp3 .flac .ogg .oga .opus .m4a .m4b .mp4 .aac .alac .wav .wave .aif .aiff .aifc .wma "
    ".wv .ape .mka .webm .caf".split()
)


@dataclass(frozen=True)
class Candidate:
    """An audio file found on disk, with the fields that tell whether it changed."""

    path: str
    size: int
    mtime_ns: int

    @property
    def format(self) -> str:
        return os.path.splitext(self.path)[1].lower().lstrip(".")


@dataclass(frozen=True)
class Problem:
    """Something found while walking that is not a track we can scan (shown, not stored)."""

    path: str
    message: str


def is_audio_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Candidate | Problem]:
    """Yield each audio file under ``paths`` once (sorted within each folder), or a Problem.

    Files named explicitly are taken whatever their extension; inside folders only audio
    extensions count and hidden entries (``.name``) are skipped.
    """
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for given in paths:
        top = os.fspath(given)
        try:
            st = os.stat(top)
        except FileNotFoundError:
            yield Problem(top, "no such file or folder")
            continue
        except OSError as exc:
            yield Problem(top, _reason(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(top, seen_files, seen_dirs)
        elif stat.S_ISREG(st.st_mode):
            candidate = _candidate(top, st, seen_files)
            if candidate:
                yield candidate
        else:
            yield Problem(top, "not a regular file or folder")


def _walk(
    folder: str, seen_files: set[str], seen_dirs: set[tuple[int, int]]
) -> Iterator[Candidate | Problem]:
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a folder reached twice
                continue
            seen_dirs.add(key)
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Problem(current, _reason(exc))
            continue
        subfolders: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows symlinks; loops are caught by seen_dirs
                    subfolders.append(entry.path)
                elif not is_audio_name(entry.name):
                    continue
                elif entry.is_file():
                    candidate = _candidate(entry.path, entry.stat(), seen_files)
                    if candidate:
                        yield candidate
                elif os.path.exists(entry.path):  # follows links; stat only, so a FIFO can't hang
                    yield Problem(entry.path, "not a regular file (device, socket or pipe)")
                elif entry.is_symlink():
                    yield Problem(entry.path, "broken link (its target does not exist)")
            except OSError as exc:  # dangling link, vanished file, permission denied
                if is_audio_name(entry.name):
                    yield Problem(entry.path, _reason(exc))
        stack.extend(reversed(subfolders))


def _candidate(path: str, st: os.stat_result, seen: set[str]) -> Candidate | None:
    resolved = os.path.realpath(path)
    if resolved in seen:
        return None
    seen.add(resolved)
    return Candidate(resolved, st.st_size, st.st_mtime_ns)


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno is not None and exc.strerror:
        return exc.strerror.lower()
    return str(exc)
