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
5. give it the original's mode, owner and extended attributes;
6. (:func:`commit_writes`, for a batch of files at once) fsync the new files, check each
   original did not change meanwhile, ``os.replace`` it over the original, fsync the folders.

A crash or ``kill -9`` at any moment leaves the original or the new file, never a mix: the
only step that changes the original's path is the rename. A killed run can leave a temporary
file behind; :func:`remove_stale_temps` clears those of dead processes.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import mutagen

from tagger.tags.atomic import (
    concurrently, copy_file, copy_metadata, fsync_dir, fsync_path, remove_stale_temps,
    temp_path_for, unlink_quietly,
)
from tagger.tags.fields import FIELDS, FIELDS_BY_NAME, Snapshot
from tagger.tags.formats import (
    Container, TagError, detect, fingerprint, id3_version, out_of_room,
)
from tagger.tags.options import DEFAULT_OPTIONS, TagOptions
from tagger.tags.payload import PayloadError, same_payload

__all__ = [
    "FieldChange", "FileState", "FileUpdate", "PendingWrite", "commit_writes", "discard",
    "prepare_update", "read_fields", "remove_stale_temps", "update_file",
]


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
    """Our fields as a file holds them, and the exact snapshot of each (for backups).

    ``values`` are the instruments the fields mean (a joined value split on its separator);
    ``stored`` the text values exactly as the file holds them.
    """

    format: str
    kind: str
    labels: dict[str, str]
    values: dict[str, list[str]]
    snapshots: dict[str, Snapshot]
    had_tag: bool = True  # False: an ID3 kind with no tag at all (mutagen added an empty one)
    stored: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FileUpdate:
    """What :func:`update_file` did (or, in a dry run, would do)."""

    changes: list[FieldChange] = field(default_factory=list)
    written: bool = False
    size: int | None = None
    mtime_ns: int | None = None
    own_write: bool = False  # the file is as tagger's own interrupted write left it


def _state(mf: mutagen.FileType, container: Container, options: TagOptions) -> FileState:
    styles = {f.name: f.style(container.kind) for f in FIELDS}
    stored = {n: s.get(mf.tags) for n, s in styles.items()}
    return FileState(
        format=container.name,
        kind=container.kind,
        labels={n: s.label for n, s in styles.items()},
        values={n: options.decode(n, v) for n, v in stored.items()},
        snapshots={n: s.snapshot(mf.tags) for n, s in styles.items()},
        had_tag=container.kind != "id3" or bool(mf.tags.size),
        stored=stored,
    )


def read_fields(path: str, options: TagOptions = DEFAULT_OPTIONS) -> FileState:
    """Our fields as the file at ``path`` holds them (raises :class:`TagError`).

    ``options.separator`` splits joined values; both layouts read back as lists."""
    container = detect(path)
    return _state(container.load(path), container, options)


@dataclass
class PendingWrite:
    """A verified temporary file waiting to replace ``path`` (see :func:`commit_writes`)."""

    path: str
    tmp: str
    st: os.stat_result  # the original's, when it was checked
    update: FileUpdate
    expect: tuple[int, int] = (0, 0)  # the new file's (size, mtime_ns): it keeps them in the rename


def update_file(
    path: str,
    *,
    values: Mapping[str, list[str]] | None = None,
    restore: Mapping[str, Snapshot] | None = None,
    restore_kind: str | None = None,
    restore_no_tag: bool = False,
    expected: tuple[int | None, int | None] | None = None,
    own_write: tuple[int, int] | None = None,
    dry_run: bool = False,
    before_write: Callable[[FileState], None] | None = None,
    options: TagOptions = DEFAULT_OPTIONS,
) -> FileUpdate:
    """Set (``values``; ``[]`` deletes) or restore (``restore``: snapshots) our fields.

    One file, start to finish: :func:`prepare_update` then :func:`commit_writes`. Raises
    :class:`TagError` with a one-line reason; the file is then as it was.
    """
    update, pending = prepare_update(path, values=values, restore=restore,
                                     restore_kind=restore_kind, restore_no_tag=restore_no_tag,
                                     expected=expected, own_write=own_write,
                                     dry_run=dry_run, before_write=before_write,
                                     options=options)
    if pending is not None:
        [error] = commit_writes([pending])
        if error is not None:
            raise error
    return update


def prepare_update(
    path: str,
    *,
    values: Mapping[str, list[str]] | None = None,
    restore: Mapping[str, Snapshot] | None = None,
    restore_kind: str | None = None,
    restore_no_tag: bool = False,
    expected: tuple[int | None, int | None] | None = None,
    own_write: tuple[int, int] | None = None,
    dry_run: bool = False,
    before_write: Callable[[FileState], None] | None = None,
    options: TagOptions = DEFAULT_OPTIONS,
) -> tuple[FileUpdate, PendingWrite | None]:
    """Check, diff, and write + verify the new version beside the file; replace nothing yet.

    Snapshots taken from another tag kind than the file has now (``restore_kind``) cannot be
    put back; the fields are then just removed. ``restore_no_tag``: the file had no tag at all
    before tagger wrote one, so if nothing but our fields is in it, the whole tag goes (the
    file's bytes become the original's again). ``expected`` is ``(size, mtime_ns)`` from the
    store: a file that differs has changed since it was scanned and is refused, because its
    analysis may no longer describe it, unless it matches ``own_write``: the (size, mtime_ns)
    noted for tagger's own write of it (``Store.expect_writes``), which a killed run made but
    did not record (``update.own_write`` then tells the caller to record it).
    ``options`` lay out several values (joined or as a list) and pick a new ID3 tag's
    version; a file whose fields mean the same values in the other layout is rewritten in
    this one. ``before_write`` runs after every check, before the temporary file is made, with the
    file's previous state: the caller stores its backup there, so a backup always exists
    before the first change. Returns the diff and, when there is something to write (and not
    ``dry_run``), the pending write; raises :class:`TagError`.
    """
    st, own = _check_file(path, expected, own_write)
    container = detect(path)
    mf = container.load(path)
    container.check_id3(path, mf)
    before = _state(mf, container, options)
    options = options.for_file(before.stored)
    for name, new_values in (values or {}).items():
        style = FIELDS_BY_NAME[name].style(container.kind)
        stored = options.encode(name, list(new_values))
        if stored:
            style.set(mf.tags, stored)
        else:
            style.delete(mf.tags)
    for name, snap in (restore or {}).items():
        if restore_kind is not None and restore_kind != container.kind:
            snap = None
        FIELDS_BY_NAME[name].style(container.kind).restore(mf.tags, snap)
    after = {f.name: f.style(container.kind).get(mf.tags) for f in FIELDS}
    changes = [FieldChange(n, before.values[n], options.decode(n, after[n])) for n in after
               if after[n] != before.stored[n]]
    update = FileUpdate(changes=changes, size=st.st_size, mtime_ns=st.st_mtime_ns, own_write=own)
    if not changes or dry_run:
        return update, None
    if before_write is not None:
        before_write(before)
    strip = restore_no_tag and container.kind == "id3" and not _holds_anything(mf)
    version = id3_version(mf, options.id3_version)
    tmp = _write_temp(path, st, mf, container, expected_fields=after, strip=strip,
                      id3_version=version)
    return update, PendingWrite(path, tmp, st, update)


def commit_writes(
    pending: list[PendingWrite],
    before_replace: Callable[[list[tuple[str, int, int]]], None] | None = None,
) -> list[TagError | None]:
    """Make the temporary files durable, then rename each over its original.

    The fsyncs run concurrently, so the file system commits its journal once for the batch
    instead of once per file (measured: ~0.2 ms instead of ~4 ms per file on ext4). Then
    ``before_replace`` gets ``(path, size, mtime_ns)`` of each new file (a rename keeps both),
    so the caller can note them durably first; if it raises :class:`TagError`, nothing is
    replaced. Then each original is checked unchanged since :func:`prepare_update` and
    atomically replaced, and each folder is fsynced once so the renames are durable too.
    Returns per write None (done: ``update`` holds the new size and mtime) or the error
    (original left as it was).
    """
    errors: list[TagError | None] = [None] * len(pending)
    synced = concurrently(fsync_path, [p.tmp for p in pending])
    for i, (p, sync_error) in enumerate(zip(pending, synced)):
        try:
            if sync_error is not None:
                raise sync_error
            tst = os.stat(p.tmp)
            p.expect = (tst.st_size, tst.st_mtime_ns)
        except OSError as exc:
            errors[i] = _write_failed(exc)
            unlink_quietly(p.tmp)
    ready = [i for i, error in enumerate(errors) if error is None]
    if before_replace is not None and ready:
        try:
            before_replace([(pending[i].path, *pending[i].expect) for i in ready])
        except TagError as exc:
            for i in ready:
                errors[i] = exc
                unlink_quietly(pending[i].tmp)
            return errors
    folders: set[str] = set()
    for i in ready:
        p = pending[i]
        try:
            now = os.stat(p.path)
            if (now.st_size, now.st_mtime_ns, now.st_ino) != (
                p.st.st_size, p.st.st_mtime_ns, p.st.st_ino
            ):
                raise TagError("file changed while its tags were being written; left as it was")
            os.replace(p.tmp, p.path)
            new = os.stat(p.path)
            p.update.written, p.update.size, p.update.mtime_ns = True, new.st_size, new.st_mtime_ns
            folders.add(os.path.dirname(p.path) or ".")
        except FileNotFoundError:
            errors[i] = TagError("file vanished while its tags were being written")
        except OSError as exc:
            errors[i] = _write_failed(exc)
        except TagError as exc:
            errors[i] = exc
        if errors[i] is not None:
            unlink_quietly(p.tmp)
    concurrently(fsync_dir, sorted(folders))
    return errors


def _write_failed(exc: OSError) -> TagError:
    return out_of_room(exc) or TagError(f"write failed, file left as it was: {exc.strerror or exc}")


def discard(pending: list[PendingWrite]) -> None:
    """Delete the temporary files of writes that will not be committed (e.g. on Ctrl-C)."""
    for p in pending:
        unlink_quietly(p.tmp)


def _check_file(path: str, expected: tuple[int | None, int | None] | None,
                own_write: tuple[int, int] | None = None) -> tuple[os.stat_result, bool]:
    """The file's stat if it may be written, and whether it matched ``own_write``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TagError("file not found (moved or deleted since the scan?)") from None
    except OSError as exc:
        raise TagError(f"cannot stat the file: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise TagError("not a regular file")
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise TagError("file is read-only (no write permission)")
    if not os.access(os.path.dirname(path) or ".", os.W_OK | os.X_OK):
        raise TagError("its folder is read-only (a safe write needs a temporary file beside it)")
    if st.st_nlink > 1:
        raise TagError(f"file has {st.st_nlink} hard links; replacing it would split them")
    if own_write is not None and own_write == (st.st_size, st.st_mtime_ns):
        return st, True
    if expected is not None:
        size, mtime_ns = expected
        if (size is not None and size != st.st_size) or (
            mtime_ns is not None and mtime_ns != st.st_mtime_ns
        ):
            raise TagError("file changed since it was scanned (run `tagger scan` on it first)")
    return st, False


def _write_temp(
    path: str, st: os.stat_result, mf: mutagen.FileType, container: Container,
    *, expected_fields: dict[str, list[str]], strip: bool = False, id3_version: int = 4,
) -> str:
    """The new version of ``path`` beside it, verified and with the original's metadata."""
    tmp = temp_path_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        if not container.rebuilds:
            copy_file(path, tmp)
        try:
            if strip:
                container.strip(mf, path, tmp)
            else:
                container.save(mf, path, tmp, id3_version)
        except TagError:
            raise
        except Exception as exc:
            raise out_of_room(exc) or TagError(
                f"mutagen could not write the tags: {_one_line(exc)}") from None
        _verify(path, tmp, container, expected_fields, stripped=strip, id3_version=id3_version,
                before=mf)
        copy_metadata(path, st, tmp)
    except OSError as exc:
        unlink_quietly(tmp)
        raise _write_failed(exc) from None
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


def _verify(path: str, tmp: str, container: Container, expected_fields: dict[str, list[str]],
            *, before: mutagen.FileType, stripped: bool = False, id3_version: int = 4) -> None:
    """Refuse the new file unless only our fields differ and the audio is byte-identical."""
    try:
        new = container.load(tmp)
    except TagError as exc:
        raise TagError(f"the rewritten file does not parse, left as it was ({exc})") from None
    for name, values in expected_fields.items():
        got = FIELDS_BY_NAME[name].style(container.kind).get(new.tags)
        if got != values:
            raise TagError(f"{name} did not read back as written ({got!r} != {values!r})")
    if stripped and getattr(new.tags, "size", 0):
        raise TagError("the tag did not go away as intended; left as it was")
    if container.kind == "id3" and not stripped and new.tags.version[:2] != (2, id3_version):
        raise TagError("the ID3 version would change; left as it was")
    if fingerprint(new, container.kind) != fingerprint(before, container.kind):
        raise TagError("other tags would change; left as it was")
    try:
        same = same_payload(path, container.audio_spans(path), tmp, container.audio_spans(tmp))
        same = same and container.audio_layout(path) == container.audio_layout(tmp)
    except (PayloadError, OSError, ValueError, struct.error) as exc:
        raise TagError(f"cannot locate the audio data to verify it ({exc})") from None
    if not same:
        raise TagError("the audio data would change; left as it was")


def _holds_anything(mf: mutagen.FileType) -> bool:
    """Whether an ID3 tag still has any frame (known or not) once our fields are out."""
    return bool(len(mf.tags) or mf.tags.unknown_frames)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


