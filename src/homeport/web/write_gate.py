"""Web writers queue on the event loop, not in the thread pool.

A write transaction needs a thread to run in and, on SQLite, the process's one writer
turn. If every waiting writer held a pool thread while it waited, a burst of writes
would fill the pool with waiters and the writer holding the turn could not get a
thread to finish: the server would stall. So writers wait here, as coroutines that
cost no thread, and only the one whose turn it is takes a thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from homeport.domain.errors import DomainError


class WriteQueueTimeout(DomainError):
    """A writer waited longer than the configured time for its turn."""

    status = 503
    title = "Service Unavailable"
    retry_after = 1


class WriteGate:
    """At most ``slots`` writers at a time per event loop; the others wait in order.

    SQLite has one writer at a time, so it gets one slot; a server database takes
    several writers at once, but fewer than the thread pool has threads, so reads
    always find a thread.
    """

    def __init__(self, timeout: float, slots: int = 1) -> None:
        self.timeout = timeout
        self.slots = slots
        # asyncio primitives belong to one loop; tests may serve one app from several.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self.waiting = 0

    def _lock(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Semaphore(self.slots)
        return lock

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait (without a thread) for this loop's writer turn; 503 after ``timeout``."""
        lock = self._lock()
        self.waiting += 1
        try:
            if lock.locked():
                await asyncio.wait_for(lock.acquire(), self.timeout)
            else:
                await lock.acquire()  # free, nobody ahead: no timer (wait_for makes a task)
        except TimeoutError:
            raise WriteQueueTimeout(
                "The server is busy with other changes; nothing was changed. Try again."
            ) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            lock.release()
