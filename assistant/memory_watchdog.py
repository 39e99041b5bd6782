"""A client-side deadline for a blocking call that has no timeout of its own.

psycopg's sync connection waits for a reply as long as the socket stays open: `statement_timeout`
bounds only the server's work and TCP keepalives are answered by any proxy on the way, so a
stalled network (or a stalled proxy) hangs the caller. `Watchdog` runs one thread per store
that calls `on_expiry` (which shuts the socket down) when an armed deadline passes; the blocked
call then fails at once and the caller turns that into a `TimeoutError`.

One deadline at a time (the sync rehydrator serialises its calls under a lock). Arming and
disarming take a lock and wake the thread only when it sleeps without a deadline, so a query
that answers in time costs about a microsecond, not a thread.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Watchdog:
    """Calls `on_expiry()` when a deadline armed by `deadline(seconds)` passes before its block ends."""

    def __init__(self, on_expiry: Callable[[], None], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._on_expiry = on_expiry
        self._clock = clock
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._idle = False  # the thread waits with no deadline: arming must wake it
        self._closed = False
        self._thread: threading.Thread | None = None
        self.fired = False  # whether the last armed deadline expired

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        with self._cond:
            if self._closed:
                raise RuntimeError("the watchdog is closed")
            self.fired = False
            self._deadline = self._clock() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="memory-watchdog", daemon=True)
                self._thread.start()
            elif self._idle:
                self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._deadline = None  # the thread wakes at the old deadline, finds none, sleeps

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    continue
                remaining = self._deadline - self._clock()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._deadline = None
                self.fired = True
                try:
                    self._on_expiry()
                except Exception as error:  # noqa: BLE001 - the call it guards reports the failure; the watch goes on
                    log.debug("watchdog: the expiry action failed: %s", error)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
