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
        lock.acquire(timeout=0)
    except Timeout:
        note(f"Another `gitops run` ({_holder(owner)}) is running this pipeline ({state_path}); "
             "waiting for it to finish. Ctrl-C to stop waiting.")
        lock.acquire()
    try:
        owner.write_text(f"pid {os.getpid()} on {socket.gethostname()}\n", encoding="utf-8")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _holder(owner: Path) -> str:
    try:
        return owner.read_text(encoding="utf-8").strip() or "another process"
    except OSError:
        return "another process"
