"""SIGTERM as an exception, like SIGINT's KeyboardInterrupt, so that a task being run hears both.

A cancelled GitHub job or a `kill` sends SIGTERM; Python's default then ends the process at
once, with the task left `running` and its command's processes orphaned. Raised instead, it
unwinds through the runner, which ends the command's process group and records the task as
interrupted before gitops exits 143 (130 for Ctrl-C), the shell's 128 + signal number.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt: a handler's `except Exception`
    must not swallow it."""


def signal_name(interruption: BaseException) -> str:
    return "SIGTERM" if isinstance(interruption, Terminated) else "SIGINT"


def exit_code(interruption: BaseException) -> int:
    return 128 + (signal.SIGTERM if isinstance(interruption, Terminated) else signal.SIGINT)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (main thread only: elsewhere no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
