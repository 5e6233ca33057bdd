"""File-system steps of a safe replace: temporary names, copies, metadata, fsync, cleanup.

Kept apart from :mod:`tagger.tags.files` (which decides *what* to write) because these are
the steps whose order makes the write crash-safe, and they are easier to audit in one place.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tagger.tags.formats import TagError, copy_range

_TEMP_RE = re.compile(r"^\..+\.tagger-(\d+)-[0-9a-f]+\.tmp$")


def concurrently(fn: Callable[[str], Any], items: list[str]) -> list[Any]:
    """``map`` on a short-lived thread pool: fsyncs issued together share journal commits.

    Short-lived so no idle threads linger in a process that later forks (DataLoader workers).
    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
        return list(pool.map(fn, items))


def fsync_path(path: str) -> OSError | None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    return None


def temp_path_for(path: str) -> str:
    """A hidden name beside ``path`` that says which process made it."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.tagger-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def copy_file(src: str, dst: str) -> None:
    """A byte copy in the kernel (``copy_file_range``: reflinks on btrfs/XFS)."""
    with open(src, "rb") as fsrc, open(dst, "wb") as fdst:
        copy_range(fsrc, 0, os.fstat(fsrc.fileno()).st_size, fdst)


def copy_metadata(path: str, st: os.stat_result, tmp: str) -> None:
    """Mode, owner/group and extended attributes of the original go to the new file."""
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
    tst = os.stat(tmp)
    if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            raise TagError("cannot keep the file's owner/group (not ours); left as it was") from None
        os.chmod(tmp, stat.S_IMODE(st.st_mode))  # chown clears set-id bits
    try:
        names = os.listxattr(path)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(tmp, name, os.getxattr(path, name))
        except OSError:
            pass  # best effort: e.g. security.* needs privileges we may not have


def fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_stale_temps(folder: str) -> int:
    """Delete temporary files left in ``folder`` by killed tagger processes; returns how many."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        m = _TEMP_RE.match(name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        unlink_quietly(os.path.join(folder, name))
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
