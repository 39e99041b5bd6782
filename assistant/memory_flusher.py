"""The background flusher: episodic events queue up and are written in batches, never dropped.

Producers `put` events into a bounded `asyncio.Queue`; a full queue makes them wait
(backpressure), so memory stays bounded at `maxsize` queued events plus one batch in flight.
`start()` runs `run()` as the task of a `TaskGroup`: it takes what is queued (up to
`batch_size`) and writes it with one call, which the store makes one transaction. A batch
that fails with a transient error (or an open circuit) is kept and retried after a growing
delay until it is written. `stop()` is the graceful shutdown: it refuses new events, waits
until every queued event is written (after its timeout it raises `MemoryFlushError`
carrying every unwritten event), then closes the TaskGroup.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack

from assistant.memory_resilience import RECOVERABLE, RetryPolicy
from assistant.memory_types import EpisodicEvent

log = logging.getLogger(__name__)

WriteBatch = Callable[[list[EpisodicEvent]], Awaitable[object]]


class MemoryFlushError(RuntimeError):
    """Shutdown ran out of time before every event was written; `unwritten` holds them."""

    def __init__(self, message: str, unwritten: Sequence[EpisodicEvent]) -> None:
        super().__init__(message)
        self.unwritten = list(unwritten)


class FlusherClosedError(RuntimeError):
    """An event was offered after shutdown began."""


class EventFlusher:
    """A bounded queue of episodic events and the loop that writes them in batches."""

    def __init__(
        self,
        write: WriteBatch,
        *,
        maxsize: int = 1024,
        batch_size: int = 128,
        backoff: RetryPolicy = RetryPolicy(attempts=1, base_delay=0.02, max_delay=1.0),
    ) -> None:
        if maxsize < 1 or batch_size < 1:
            raise ValueError(f"maxsize and batch_size must be positive: {maxsize}, {batch_size}")
        self._write = write
        self.batch_size = batch_size
        self._backoff = backoff
        self._queue: asyncio.Queue[EpisodicEvent] = asyncio.Queue(maxsize)
        self._inflight: list[EpisodicEvent] = []
        self._closed = False
        self._give_up = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self._stack: AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0
        self.failed_writes = 0
        self.high_water = 0  # the most events ever waiting in the queue

    @property
    def maxsize(self) -> int:
        return self._queue.maxsize

    def stats(self) -> dict[str, int]:
        """The queue's size and bound, batches and events written, failed writes."""
        return {
            "queued": self.pending(),
            "queue_high_water": self.high_water,
            "queue_maxsize": self.maxsize,
            "batches": self.batches,
            "events_written": self.written,
            "failed_writes": self.failed_writes,
        }

    def pending(self) -> int:
        """Events accepted but not yet written (queued plus the batch in flight)."""
        return self._queue.qsize() + len(self._inflight)

    async def put(self, event: EpisodicEvent) -> None:
        """Queue an event; waits while the queue is full (backpressure)."""
        self._check_open(event)
        await self._queue.put(event)
        self.high_water = max(self.high_water, self._queue.qsize())

    def put_nowait(self, event: EpisodicEvent) -> None:
        """Queue an event or raise `asyncio.QueueFull` at once."""
        self._check_open(event)
        self._queue.put_nowait(event)
        self.high_water = max(self.high_water, self._queue.qsize())

    def _check_open(self, event: EpisodicEvent) -> None:
        if self._closed:
            raise FlusherClosedError("the memory flusher is shutting down: no new events")
        # Checked here, not at write time: a bad event would fail its whole batch forever.
        if not all(isinstance(v, str) for v in (event.session, event.kind, event.content)):
            raise TypeError(f"episodic event fields must be strings: {event!r}")

    async def join(self) -> None:
        """Wait until every event queued so far is written."""
        await self._queue.join()

    async def run(self) -> None:
        """Write queued events in batches until cancelled (when idle) or told to give up."""
        self._running = True
        try:
            while not self._give_up.is_set():
                batch = [await self._queue.get()]
                while len(batch) < self.batch_size and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                self._inflight = batch
                if not await self._write_until_done(batch):
                    return
                self._inflight = []
                for _ in batch:
                    self._queue.task_done()
        finally:
            self._stopped.set()

    async def _write_until_done(self, batch: list[EpisodicEvent]) -> bool:
        """Write `batch`, retrying transient failures; False if told to give up first."""
        attempt = 0
        while True:
            try:
                await self._write(batch)
            except RECOVERABLE as error:
                self.failed_writes += 1
                delay = self._backoff.delay(attempt)
                attempt += 1
                log.warning("memory flusher: %d events not written (%s); retrying in %.2f s", len(batch), error, delay)
                try:  # sleep, but wake at once if shutdown gives up
                    await asyncio.wait_for(self._give_up.wait(), delay)
                    return False
                except TimeoutError:
                    continue
            self.batches += 1
            self.written += len(batch)
            return True

    async def start(self) -> None:
        """Start `run()` as the only task of a TaskGroup that `stop()` closes."""
        stack = AsyncExitStack()
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        self._task = tasks.create_task(self.run(), name="memory-flusher")
        self._stack = stack

    async def stop(self, timeout: float) -> None:
        """Graceful shutdown: drain, then end the task and its TaskGroup (same task as `start`)."""
        stack, self._stack = self._stack, None
        if stack is None or self._task is None:
            return
        unwritten: MemoryFlushError | None = None
        try:
            await self.drain(timeout)
        except MemoryFlushError as error:
            unwritten = error
        self._task.cancel()  # idle in queue.get() once drained
        try:
            # Exited without the caller's exception, which a TaskGroup would wrap in a group.
            await stack.aclose()
        except BaseExceptionGroup as group:  # run() failed: keep its unwritten events in view
            raise group.derive([*group.exceptions, *filter(None, [unwritten])]) from None
        if unwritten is not None:
            raise unwritten

    async def drain(self, timeout: float) -> None:
        """Refuse new events and wait until every queued one is written, at most `timeout` s."""
        self._closed = True
        join = asyncio.ensure_future(self._queue.join())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            done, _ = await asyncio.wait({join, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            join.cancel()
            stopped.cancel()
        if join in done:
            return
        self._give_up.set()
        if self._running:
            await self._stopped.wait()  # a write in progress finishes (SQLite's busy timeout bounds it)
        unwritten = [*self._inflight, *self._take_all()]
        if unwritten:
            raise MemoryFlushError(
                f"memory flusher: {len(unwritten)} events not written within {timeout} s "
                f"({self.failed_writes} failed writes); they are attached to this error",
                unwritten,
            )

    def _take_all(self) -> list[EpisodicEvent]:
        events: list[EpisodicEvent] = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
            self._queue.task_done()
        return events
