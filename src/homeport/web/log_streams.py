"""Live activity-log streams: a per-account cap, and one watcher for every idle stream.

An open stream used to poll the database every 50 ms on its own, so a few hundred
streams from one viewer slowed every other request. Now each account may hold a
bounded number of streams (``HOMEPORT_MAX_LOG_STREAMS``), and streams with nothing to
send wait on an event: a single watcher per event loop asks the database, in one query
for all watched activities, whether any of them moved, and wakes only those.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from homeport.domain.errors import DomainError
from homeport.store.db import Database
from homeport.store.models import Activity, ActivityLog

# How often the watcher looks while any stream waits; idle streams themselves cost
# nothing, and nothing runs at all when no stream is open.
WATCH_SECONDS = 0.05
# A stream re-reads on its own at least this often, in case the watcher missed a change.
FALLBACK_SECONDS = 5.0

Mark = tuple[int, str, int]


class TooManyStreams(DomainError):
    """The account already holds its share of concurrent log streams."""

    status = 429
    title = "Too Many Requests"
    retry_after = 5


class StreamSlots:
    """At most ``cap`` concurrent streams per account, across the whole process."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, account_id: str) -> Callable[[], None]:
        """Take a slot or raise TooManyStreams; returns the (idempotent) release."""
        with self._lock:
            held = self._open.get(account_id, 0)
            if held >= self.cap:
                raise TooManyStreams(
                    f"You already have {held} activity log streams open (the limit is "
                    f"{self.cap}); close one and try again."
                )
            self._open[account_id] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                left = self._open.get(account_id, 1) - 1
                if left > 0:
                    self._open[account_id] = left
                else:
                    self._open.pop(account_id, None)

        return release

    def held(self, account_id: str) -> int:
        """Streams the account has open now."""
        with self._lock:
            return self._open.get(account_id, 0)


class _LoopWatch:
    """The watcher of one event loop: activity pk -> the events of its waiting streams."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.waiting: dict[int, set[asyncio.Event]] = {}
        self.marks: dict[int, Mark] = {}
        self.task: asyncio.Task[None] | None = None
        self.probes = 0

    def probe(self, pks: list[int]) -> dict[int, Mark]:
        """Each watched activity's last log line, state and progress, in one round trip."""
        last_seq = (
            select(func.max(ActivityLog.seq))
            .where(ActivityLog.activity_pk == Activity.pk)
            .scalar_subquery()
        )
        with self.db.session() as session:
            rows = session.execute(
                select(
                    Activity.pk,
                    func.coalesce(last_seq, 0),
                    Activity.state,
                    Activity.completion_percent,
                ).where(Activity.pk.in_(pks))
            ).all()
        marks = {pk: (int(seq), str(state), int(pct)) for pk, seq, state, pct in rows}
        for pk in pks:
            marks.setdefault(pk, (-1, "gone", 0))
        return marks

    async def run(self) -> None:
        try:
            while self.waiting:
                pks = list(self.waiting)
                marks = await run_in_threadpool(self.probe, pks)
                self.probes += 1
                for pk, mark in marks.items():
                    if self.marks.get(pk) != mark:
                        self.marks[pk] = mark
                        for event in self.waiting.get(pk, ()):
                            event.set()
                await asyncio.sleep(WATCH_SECONDS)
        finally:
            self.task = None


class LogWatch:
    """Wakes waiting log streams when their activity logs a line or changes state."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWatch] = (
            weakref.WeakKeyDictionary()
        )

    def _here(self) -> _LoopWatch:
        loop = asyncio.get_running_loop()
        watch = self._loops.get(loop)
        if watch is None:
            watch = self._loops[loop] = _LoopWatch(self.db)
        return watch

    @property
    def probes(self) -> int:
        """Database probes made so far (all loops): what idle streams cost."""
        return sum(w.probes for w in list(self._loops.values()))

    @asynccontextmanager
    async def watch(self, pk: int) -> AsyncIterator[asyncio.Event]:
        """An event set whenever activity ``pk`` may have something new to read."""
        here = self._here()
        event = asyncio.Event()
        here.waiting.setdefault(pk, set()).add(event)
        if here.task is None:
            here.task = asyncio.get_running_loop().create_task(here.run())
        try:
            yield event
        finally:
            events = here.waiting.get(pk)
            if events is not None:
                events.discard(event)
                if not events:
                    del here.waiting[pk]
                    here.marks.pop(pk, None)


async def wait_for_news(event: asyncio.Event, at_most: float = FALLBACK_SECONDS) -> None:
    """Wait until the watcher says there may be news, or ``at_most`` seconds pass (never
    more than the fallback interval)."""
    with suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(0.0, min(at_most, FALLBACK_SECONDS)))


class SlotStreamingResponse(StreamingResponse):
    """A stream that gives its account's slot back however it ends (even unstarted)."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        release: Callable[[], None],
        media_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
