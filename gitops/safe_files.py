"""Reading and writing files in a checkout gitops does not control: special files and links.

A task list or state.json given on the command line may be a FIFO (reading blocks until a writer
comes) or /dev/zero (reading never ends); a checkout may hold a committed symlink where gitops
writes (a log, a lock, a pid file) that points anywhere, /etc/passwd included. So reads take
regular files only, up to a size cap, and are opened with O_NONBLOCK so that opening a FIFO does
not wait; writes open with O_NOFOLLOW and refuse a link at the file or at the folders gitops
makes above it (each folder is opened relative to the one before, so a link cannot be swapped in
between a check and the write: https://man7.org/linux/man-pages/man2/openat.2.html).
"""
from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path

from gitops.errors import BadInput

MIB = 1024 * 1024
# O_NOFOLLOW/O_DIRECTORY are POSIX; on Windows (no symlinks in a checkout by default) they are 0.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class NotRegular(Exception):
    """`path` is not a regular file of at most the cap; `what` says what it is instead."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what


def describe(mode: int) -> str:
    """What a file is, from its st_mode: "a directory", "a FIFO (named pipe)", ..."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((said for test, said in kinds if test(mode)), "not a regular file")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path` (links followed), at most `limit` of them.

    NotRegular when it is anything else or larger; OSError (FileNotFoundError, ...) as open raises.
    """
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(Path(path), f"is {describe(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise NotRegular(Path(path), f"is {info.st_size} bytes, more than the {limit // MIB} MiB gitops reads")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:  # the size can grow after fstat: read no more than the cap
            chunk = os.read(fd, min(MIB, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotRegular(Path(path), f"is more than the {limit // MIB} MiB gitops reads")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def refusal(path: Path, role: str) -> str | None:
    """Why gitops will not write `path` (its `role`, e.g. "the task's log"), or None if it may."""
    try:
        info = os.lstat(path)
    except OSError:
        return None  # missing (gitops makes it) or unreadable (the write says why)
    if stat.S_ISLNK(info.st_mode):
        return (f"{path}: is a symbolic link (to {_link_target(path)}); gitops writes {role} there and "
                f"never through a link. Remove the link (rm {path}; git rm --cached {path} if it is committed) "
                "and try again.")
    if not stat.S_ISREG(info.st_mode):
        return (f"{path}: is {describe(info.st_mode)}; gitops writes {role} there as a regular file. "
                f"Remove it (rm -r {path}) and try again.")
    return None


def write_below(path: Path, data: bytes, folders: int, role: str) -> None:
    """Write `path`, making the last `folders` folders above it; follows no link at any of them.

    The folder above those is trusted (the project's own folder). BadInput names a link or a
    special file in the way.
    """
    path = Path(path)
    top = path.parents[folders]
    top.mkdir(parents=True, exist_ok=True)  # trusted: the state's own folder
    fd = os.open(top, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    current = top
    try:
        for name in path.parent.parts[len(top.parts):]:
            current = current / name
            with suppress(FileExistsError):  # there already, or a link: the open below refuses it
                os.mkdir(name, dir_fd=fd)
            try:
                child = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise BadInput(_folder_refusal(current, exc, role)) from None
            os.close(fd)
            fd = child
        try:
            out = os.open(path.name, os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o666, dir_fd=fd)
        except OSError as exc:
            raise BadInput(refusal(path, role) or f"{path}: cannot write {role} ({exc.strerror}). "
                           "Check the folder's permissions.") from None
        try:
            if not stat.S_ISREG(os.fstat(out).st_mode):
                raise BadInput(refusal(path, role) or f"{path}: is not a regular file; remove it.")
            os.ftruncate(out, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(out, view):]
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _folder_refusal(folder: Path, exc: OSError, role: str) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        said = refusal(folder, role)
        if said:
            return said.replace(f"gitops writes {role} there", f"gitops writes {role} inside it", 1)
    return f"{folder}: cannot open the folder for {role} ({exc.strerror}). Check its permissions."


def lock_refusal(lock: Path, guarded: Path, exc: OSError) -> str:
    """The message for a lock file that cannot be taken: a link, a folder, or an OS error."""
    said = refusal(lock, f"the lock of {guarded}")
    if said:
        return said
    return (f"{lock}: cannot take the lock of {guarded} ({exc.strerror}). Make the folder writable, "
            f"or remove {lock} if it is not a regular file.")


# A task's log is `.gitops/logs/<file>` beside state.json: gitops makes those two folders.
LOG_FOLDERS = 2
LOG_ROLE = "the task's log"


def log_refusal(path: Path) -> str | None:
    """Why a task's log cannot be written at `path` (a link or a special file at it or at the
    folders above it), or None; checked before the task runs, and again by `write_log`."""
    for place in (*reversed(Path(path).parents[:LOG_FOLDERS]), Path(path)):
        said = refusal(place, LOG_ROLE) if place == Path(path) else _folder_link(place)
        if said:
            return said
    return None


def _folder_link(folder: Path) -> str | None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return _folder_refusal(folder, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), LOG_ROLE)
    return None


def write_log(path: Path, text: str) -> None:
    """Write a task's log without following a link at it or at `.gitops/logs` (see write_below)."""
    write_below(path, text.encode("utf-8", "replace"), LOG_FOLDERS, LOG_ROLE)
