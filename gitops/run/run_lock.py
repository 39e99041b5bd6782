"""One `gitops run` per state file at a time; a second one waits for the first instead of failing.

Two local runs of one pipeline would race for the same next task, and the loser would stop with
"Task 1.1 is running". The lock is an OS file lock (filelock: flock on POSIX), so the kernel
releases it when its holder dies, even by kill -9: a dead run never blocks the next one.
"""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from gitops.errors import BadInput
from gitops.safe_files import NotRegular, lock_refusal, read_regular, write_below


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".run.lock")


def _owner_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".run.owner")


@contextmanager
def exclusive_run(state_path: Path, note: Callable[[str], None]) -> Iterator[None]:
    """Hold the run lock of `state_path` for the block; say who holds it while waiting."""
    lock = FileLock(str(lock_path(state_path)))
    owner = _owner_path(state_path)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            note(f"Another `gitops run` ({_holder(owner)}) is running this pipeline ({state_path}); "
                 "waiting for it to finish. Ctrl-C to stop waiting.")
            lock.acquire()
    except OSError as exc:  # a link (filelock opens with O_NOFOLLOW), a folder, no permission
        raise BadInput(lock_refusal(lock_path(state_path), state_path, exc)) from None
    try:
        # A committed link at the owner file must not make this write land outside the checkout.
        write_below(owner, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0, "the run lock's owner")
    except BaseException:
        lock.release()
        raise
    try:
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _holder(owner: Path) -> str:
    try:  # a FIFO put there must not block the waiting run
        return read_regular(owner, 4096).decode("utf-8", "replace").strip() or "another process"
    except (OSError, NotRegular):
        return "another process"
