"""The scheduler loop: sleep until the earliest cron is due, start what is due, repeat.

It runs inside `homeport serve` (or alone as `homeport scheduler`). Several may run
on one database: each run is started by a conditional update of the job's next run
time, which only one of them wins. The clock is injectable so a benchmark or test
can drive an hour of schedule without waiting for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from homeport.domain import crons
from homeport.store.db import Database
from homeport.store.types import utcnow

log = logging.getLogger("homeport.scheduler")

# At most this long asleep: a deploy may add a job due sooner than the earliest known.
MAX_SLEEP = 1.0
BATCH = 500


class Scheduler:
    """Starts due crons; ``on_started`` is told how many runs it queued (to wake a
    worker)."""

    def __init__(
        self,
        db: Database,
        on_started: Callable[[int], None] = lambda _n: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.on_started = on_started
        self.clock = clock
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> int:
        """Start every job due at ``now`` (default: the clock); returns how many."""
        now = now or self.clock()
        started = 0
        while True:
            with self.db.session(write=True) as session:
                due = crons.due_jobs(session, now, BATCH)
                batch = len(crons.start_due(session, due, now))
            started += batch
            # A full batch may hide more; one where nothing started would only repeat.
            if len(due) < BATCH or batch == 0:
                break
        if started:
            self.on_started(started)
        return started

    def seconds_to_next(self, now: datetime | None = None) -> float:
        """How long to sleep before the next job is due (at most MAX_SLEEP)."""
        now = now or self.clock()
        with self.db.session() as session:
            due = crons.next_due(session)
        if due is None:
            return MAX_SLEEP
        return max(0.0, min(MAX_SLEEP, (due - now).total_seconds()))

    def run_forever(self) -> None:
        """Tick until ``stop``; a database hiccup is logged and retried."""
        while not self.stop_event.is_set():
            try:
                self.tick()
                pause = self.seconds_to_next()
            except Exception:  # the database may be briefly unavailable
                log.exception("scheduler tick failed")
                pause = MAX_SLEEP
            self.stop_event.wait(pause)

    def start(self) -> Scheduler:
        """Run the loop in a daemon thread."""
        self.thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to return, and wait for it."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
