"""Read, change and atomically rewrite our fields in one file.

A write never touches the original in place. It goes:

1. check the file: present, writable, in a writable folder, one hard link, and (when the
   caller knows it) the same size and mtime as when it was scanned;
2. load the tags with mutagen, apply the change in memory and diff our fields: nothing
   differs -> nothing is written;
3. write a hidden temporary copy *beside* the file (same file system, so the final rename is
   atomic), with the new tags;
4. verify the copy: it parses, our fields read back as intended, every other tag entry is
   unchanged, and the audio payload is byte-identical to the original's;
5. give it the original's mode, owner and extended attributes, fsync it, check the original
   did not change meanwhile, ``os.replace`` it over the original, fsync the folder.

A crash or ``kill -9`` at any moment leaves the original or the new file, never a mix: the
only step that changes the original's path is the rename. A killed run can leave a temporary
file behind; :func:`remove_stale_temps` clears those of dead processes.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import mutagen

from tagger.tags.fields import FIELDS, FIELDS_BY_NAME, Snapshot
from tagger.tags.formats import Container, TagError, copy_range, detect, fingerprint, id3_version
from tagger.tags.payload import PayloadError, same_payload

_TEMP_RE = re.compile(r"^\..+\.tagger-(\d+)-[0-9a-f]+\.tmp$")


@dataclass(frozen=True)
class FieldChange:
    """One of our fields before and after; ``action`` is add, change or remove."""

    field: str
    old: list[str]
    new: list[str]

    @property
    def action(self) -> str:
        if not self.old:
            return "add"
        return "remove" if not self.new else "change"


@dataclass(frozen=True)
class FileState:
    """Our fields as a file holds them, and the exact snapshot of each (for backups)."""

    format: str
    kind: str
    labels: dict[str, str]
    values: dict[str, list[str]]
    snapshots: dict[str, Snapshot]


@dataclass
class FileUpdate:
    """What :func:`update_file` did (or, in a dry run, would do)."""

    changes: list[FieldChange] = field(default_factory=list)
    written: bool = False
    size: int | None = None
    mtime_ns: int | None = None


def _state(mf: mutagen.FileType, container: Container) -> FileState:
    styles = {f.name: f.style(container.kind) for f in FIELDS}
    return FileState(
        format=container.name,
        kind=container.kind,
        labels={n: s.label for n, s in styles.items()},
        values={n: s.get(mf.tags) for n, s in styles.items()},
        snapshots={n: s.snapshot(mf.tags) for n, s in styles.items()},
    )


def read_fields(path: str) -> FileState:
    """Our fields as the file at ``path`` holds them (raises :class:`TagError`)."""
    container = detect(path)
    return _state(container.load(path), container)


def update_file(
    path: str,
    *,
    values: Mapping[str, list[str]] | None = None,
    restore: Mapping[str, Snapshot] | None = None,
    restore_kind: str | None = None,
    expected: tuple[int | None, int | None] | None = None,
    dry_run: bool = False,
    before_write: Callable[[FileState], None] | None = None,
) -> FileUpdate:
    """Set (``values``; ``[]`` deletes) or restore (``restore``: snapshots) our fields.

    Snapshots taken from another tag kind than the file has now (``restore_kind``) cannot be
    put back; the fields are then just removed.

    ``expected`` is ``(size, mtime_ns)`` from the store: a file that differs has changed since
    it was scanned and is refused, because its analysis may no longer describe it.
    ``before_write`` runs after every check, just before the file is replaced, with the
    file's previous state: the caller stores its backup there, so a backup always exists
    before the first change. Raises :class:`TagError` with a one-line reason.
    """
    st = _check_file(path, expected)
    container = detect(path)
    mf = container.load(path)
    before = _state(mf, container)
    for name, new_values in (values or {}).items():
        style = FIELDS_BY_NAME[name].style(container.kind)
        if new_values:
            style.set(mf.tags, list(new_values))
        else:
            style.delete(mf.tags)
    for name, snap in (restore or {}).items():
        if restore_kind is not None and restore_kind != container.kind:
            snap = None
        FIELDS_BY_NAME[name].style(container.kind).restore(mf.tags, snap)
    after = {f.name: f.style(container.kind).get(mf.tags) for f in FIELDS}
    changes = [FieldChange(n, before.values[n], after[n]) for n in after
               if after[n] != before.values[n]]
    update = FileUpdate(changes=changes, size=st.st_size, mtime_ns=st.st_mtime_ns)
    if not changes or dry_run:
        return update
    if before_write is not None:
        before_write(before)
    new_st = _replace_atomically(path, st, mf, container, expected_fields=after)
    update.written, update.size, update.mtime_ns = True, new_st.st_size, new_st.st_mtime_ns
    return update


def _check_file(path: str, expected: tuple[int | None, int | None] | None) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TagError("file not found (moved or deleted since the scan?)") from None
    except OSError as exc:
        raise TagError(f"cannot stat the file: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise TagError("not a regular file")
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise TagError("file is read-only")
    if not os.access(os.path.dirname(path) or ".", os.W_OK | os.X_OK):
        raise TagError("its folder is read-only (a safe write needs a temporary file beside it)")
    if st.st_nlink > 1:
        raise TagError(f"file has {st.st_nlink} hard links; replacing it would split them")
    if expected is not None:
        size, mtime_ns = expected
        if (size is not None and size != st.st_size) or (
            mtime_ns is not None and mtime_ns != st.st_mtime_ns
        ):
            raise TagError("file changed since it was scanned (run `tagger scan` on it first)")
    return st


def temp_path_for(path: str) -> str:
    """A hidden name beside ``path`` that says which process made it."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.tagger-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _replace_atomically(
    path: str, st: os.stat_result, mf: mutagen.FileType, container: Container,
    *, expected_fields: dict[str, list[str]],
) -> os.stat_result:
    tmp = temp_path_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        if container.name != "mp3":  # mp3 is rebuilt from the tag and the original's tail
            _copy_file(path, tmp)
        try:
            container.save(mf, path, tmp)
        except TagError:
            raise
        except Exception as exc:
            raise TagError(f"mutagen could not write the tags: {_one_line(exc)}") from None
        _verify(path, tmp, mf, container, expected_fields)
        _copy_metadata(path, st, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        now = os.stat(path)
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            raise TagError("file changed while its tags were being written; left as it was")
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise TagError("disk full; file left as it was") from None
        raise TagError(f"write failed, file left as it was: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(os.path.dirname(path) or ".")
    return os.stat(path)


def _verify(path: str, tmp: str, mf: mutagen.FileType, container: Container,
            expected_fields: dict[str, list[str]]) -> None:
    """Refuse the new file unless only our fields differ and the audio is byte-identical."""
    try:
        new = container.load(tmp)
    except TagError as exc:
        raise TagError(f"the rewritten file does not parse, left as it was ({exc})") from None
    for name, values in expected_fields.items():
        got = FIELDS_BY_NAME[name].style(container.kind).get(new.tags)
        if got != values:
            raise TagError(f"{name} did not read back as written ({got!r} != {values!r})")
    if container.kind == "id3" and new.tags.version[:2] != (2, id3_version(mf)):
        raise TagError("the ID3 version would change; left as it was")
    if fingerprint(new, container.kind) != fingerprint(mf, container.kind):
        raise TagError("other tags would change; left as it was")
    try:
        same = same_payload(path, container.audio_spans(path), tmp, container.audio_spans(tmp))
    except (PayloadError, OSError, ValueError) as exc:
        raise TagError(f"cannot locate the audio data to verify it ({exc})") from None
    if not same:
        raise TagError("the audio data would change; left as it was")


def _copy_file(src: str, dst: str) -> None:
    """A byte copy in the kernel (``copy_file_range``: reflinks on btrfs/XFS)."""
    with open(src, "rb") as fsrc, open(dst, "wb") as fdst:
        copy_range(fsrc, 0, os.fstat(fsrc.fileno()).st_size, fdst)


def _copy_metadata(path: str, st: os.stat_result, tmp: str) -> None:
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


def _fsync_dir(folder: str) -> None:
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


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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
        _unlink_quietly(os.path.join(folder, name))
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
