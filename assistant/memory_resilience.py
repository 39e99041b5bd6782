"""Resilience around the memory stores: a circuit breaker, and retries with exponential backoff.

A store call that fails with a transient error (SQLite's "database is locked", "disk I/O
error": `sqlite3.OperationalError`) is retried a few times with growing delays; repeated
failures open the store's breaker, so callers fail fast (`CircuitOpenError`) instead of
piling onto a broken store. After `reset_timeout` the breaker is half-open: the next call
is a trial whose outcome closes or re-opens it.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import psycopg

T = TypeVar("T")

# Errors worth retrying: SQLite reports busy/locked databases and I/O failures as
# OperationalError; psycopg reports a lost or refused connection, a server shutting down
# (AdminShutdown) or a cancelled query as OperationalError too
# (https://www.psycopg.org/psycopg3/docs/api/errors.html); TimeoutError is a call that ran past
# its asyncio.timeout (its connection is then closed, so a retry starts clean).
# Anything else (IntegrityError, ProgrammingError, a bug) is raised at once.
TRANSIENT: tuple[type[Exception], ...] = (sqlite3.OperationalError, psycopg.OperationalError, TimeoutError)


class BreakerState(str, Enum):
    """The states of a circuit breaker; the values are what stats and logs show."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """A store's breaker is open: the call was refused without touching the store."""


# What a caller can wait out: a transient error, or a breaker that refused the call.
RECOVERABLE: tuple[type[Exception], ...] = (*TRANSIENT, CircuitOpenError)


class CircuitBreaker:
    """Counts consecutive failures of one store; opens at `failure_threshold`, half-opens later."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self.failures = 0  # every failure recorded, for stats
        self.rejected = 0  # calls refused while open
        self.transitions: deque[BreakerState] = deque([BreakerState.CLOSED], maxlen=64)

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker turns half-open once `reset_timeout` has passed."""
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.reset_timeout:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def before_call(self) -> None:
        """Raise `CircuitOpenError` when the breaker is open; otherwise let the call through."""
        if self.state is BreakerState.OPEN:
            self.rejected += 1
            wait = self.reset_timeout - (self.clock() - self._opened_at)
            raise CircuitOpenError(
                f"{self.name} store: circuit open after {self._consecutive} consecutive failures; "
                f"next trial in {max(wait, 0.0):.2f} s"
            )

    def record_success(self) -> None:
        """A call succeeded: forget past failures and close."""
        self._consecutive = 0
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """A call failed: open at the threshold, or at once when it was a half-open trial."""
        self.failures += 1
        self._consecutive += 1
        if self._state is BreakerState.HALF_OPEN or self._consecutive >= self.failure_threshold:
            self._opened_at = self.clock()
            if self._state is not BreakerState.OPEN:
                self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self.transitions.append(state)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure (exponential backoff)."""

    attempts: int = 3
    base_delay: float = 0.01
    max_delay: float = 0.5

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        # No jitter: one process with a handful of callers, not a fleet of clients in step.
        return min(self.max_delay, self.base_delay * 2**attempt)


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    breaker: CircuitBreaker,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Await `call()` through `breaker`, retrying transient errors as `policy` says."""
    for attempt in range(policy.attempts):
        breaker.before_call()  # open: fail fast, no retry (the breaker already waits for us)
        try:
            result = await call()
        except TRANSIENT:
            breaker.record_failure()
            if attempt + 1 >= policy.attempts:
                raise
            await sleep(policy.delay(attempt))
        else:
            breaker.record_success()
            return result
    raise ValueError(f"RetryPolicy.attempts must be at least 1, not {policy.attempts}")
