"""The worker loop: claim atomically, run one activity per environment, recover crashes."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy import and_, exists, select, text, update
from sqlalchemy.orm import aliased

from homeport.domain.activities import append_log
from homeport.domain.backup_archive import ArchiveError
from homeport.domain.errors import DomainError
from homeport.logformat import log_context
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Activity
from homeport.store.types import utcnow
from homeport.worker import metrics
from homeport.worker.context import ActivityContext, ActivitySnapshot, Cancelled, TaskFailed

log = logging.getLogger("homeport.worker")

Handler = Callable[[ActivityContext], None]

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=60)
# What viewers read when a handler fails unexpectedly; the details stay in the server log.
_INTERNAL_FAILURE = "Failed: an internal error stopped this activity (reference {id}).\n"


# PostgreSQL advisory lock key taken by every claim ("claim" in ASCII).
CLAIM_LOCK = 0x636C61696D
_BUSY = aliased(Activity)
# Another activity of the same queue is running (built once: aliasing is not free).
_RUNNING_SAME_QUEUE = exists().where(
    and_(_BUSY.queue_key == Activity.queue_key, _BUSY.state == "in_progress")
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Worker:
    """Runs pending activities; several workers may share one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        handlers: Mapping[str, Handler],
        wake_event: threading.Event | None = None,
        on_failed: Callable[[ActivitySnapshot], None] | None = None,
        skip_types: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        # Types this worker leaves to another (the runtime's activities, when another
        # process owns the runtime).
        self.skip_types = skip_types
        self.settings = settings
        self.handlers = dict(handlers)
        self.host = socket.gethostname()
        self.ident = f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.stop_event = threading.Event()
        self.wake_event = wake_event or threading.Event()
        # Puts right what a failed or killed activity left behind (a half-done restore,
        # an environment left "dirty"); called after the activity is marked failed.
        self.on_failed = on_failed

        self.threads: list[threading.Thread] = []

    def start(self, count: int, daemon: bool = True) -> None:
        """Run ``count`` loops in threads (activities of different environments overlap)."""
        for i in range(count):
            thread = threading.Thread(target=self.run_forever, name=f"worker-{i}", daemon=daemon)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Ask every loop to finish its current activity and return."""
        self.stop_event.set()
        self.wake_event.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loops to return."""
        for thread in self.threads:
            thread.join(timeout)

    # -- recovery ---------------------------------------------------------------------

    def recover(self) -> int:
        """Fail activities whose worker died: same host and dead pid, or no heartbeat."""
        now = utcnow()
        orphans: list[tuple[ActivitySnapshot, str | None]] = []
        with self.db.session() as session:
            rows = session.scalars(select(Activity).where(Activity.state == "in_progress")).all()
            for row in rows:
                owner = (row.claimed_by or "::").split(":")
                dead_here = (
                    owner[0] == self.host
                    and row.claimed_by != self.ident
                    and owner[1].isdigit()
                    and not _pid_alive(int(owner[1]))
                )
                stale = row.heartbeat_at is None or row.heartbeat_at < now - STALE_AFTER
                if row.claimed_by == self.ident or not (dead_here or stale):
                    continue
                orphans.append((ActivitySnapshot.of(row), row.claimed_by))
        # Clean up first, then say so: once an activity reads "failed", what it left
        # behind is already gone.
        for orphan, _owner in orphans:
            self._clean_up(orphan)
        failed = 0
        with self.db.session(write=True) as session:
            for orphan, owner_ident in orphans:
                done = session.execute(
                    update(Activity)
                    .where(
                        Activity.pk == orphan.pk,
                        Activity.state == "in_progress",
                        Activity.claimed_by == owner_ident,
                    )
                    .values(state="complete", result="failure", completed_at=now, updated_at=now)
                )
                if getattr(done, "rowcount", 0) != 1:
                    continue
                append_log(
                    session,
                    orphan.pk,
                    "The worker running this activity stopped before it finished "
                    "(crash, kill or restart); the activity is marked as failed.\n",
                )
                failed += 1
                metrics.activity_finished(orphan.type, "complete", "failure", None)
        if failed:
            log.warning("marked %d interrupted activities as failed", failed)
        return failed

    # -- claiming ---------------------------------------------------------------------

    def claim(self) -> ActivitySnapshot | None:
        """Atomically take the oldest runnable activity (production first)."""
        running_same_queue = _RUNNING_SAME_QUEUE
        with self.db.session(write=True) as session:
            if not self.db.is_sqlite:
                # SQLite's BEGIN IMMEDIATE serialises claims; on PostgreSQL two workers
                # could each see a queue idle and start two of its activities at once.
                # Claims are short, so one lock for all of them costs little; each
                # statement after it sees the claims committed before.
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            # Only what choosing needs: loading whole rows (JSON columns) of every
            # candidate would cost more than running a quick cron.
            query = select(Activity.pk, Activity.payload).where(
                Activity.state == "pending", ~running_same_queue
            )
            if self.skip_types:
                query = query.where(Activity.type.not_in(sorted(self.skip_types)))
            candidates = session.execute(
                query.order_by(Activity.created_at, Activity.pk).limit(20)
            ).all()
            if not candidates:
                return None
            # Production environments jump the queue, as on Platform.sh.
            chosen_pk = sorted(
                candidates, key=lambda row: (row.payload or {}).get("production") is not True
            )[0].pk
            now = utcnow()
            result = session.execute(
                update(Activity)
                .where(Activity.pk == chosen_pk, Activity.state == "pending")
                .values(
                    state="in_progress",
                    started_at=now,
                    updated_at=now,
                    heartbeat_at=now,
                    claimed_by=self.ident,
                    completion_percent=0,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            chosen = session.get(Activity, chosen_pk)
            assert chosen is not None
            return ActivitySnapshot.of(chosen)

    # -- running ----------------------------------------------------------------------

    def _clean_up(self, snap: ActivitySnapshot) -> None:
        if self.on_failed is None:
            return
        try:
            self.on_failed(snap)
        except Exception:
            log.exception("could not clean up after activity %s", snap.id)

    def _finish(self, snap: ActivitySnapshot, state: str, result: str | None, line: str) -> None:
        now = utcnow()
        with self.db.session(write=True) as session:
            values: dict[str, object] = {
                "state": state,
                "result": result,
                "completed_at": now,
                "updated_at": now,
            }
            if state == "complete":
                values["completion_percent"] = 100
            row = session.execute(
                select(Activity.started_at, Activity.timings).where(Activity.pk == snap.pk)
            ).first()
            started = row.started_at if row is not None else None
            seconds = (now - started).total_seconds() if started is not None else None
            if row is not None and started is not None:
                # Platform.sh's `timings`: seconds queued and seconds running.
                values["timings"] = {
                    **(row.timings or {}),
                    "wait": round((started - snap.created_at).total_seconds(), 3),
                    "execute": round((now - started).total_seconds(), 3),
                }
            if state == "cancelled":
                values["cancelled_at"] = now
            # Only while we still hold the claim: if recovery failed it meanwhile (no
            # heartbeat for too long), its verdict stands and the queue has moved on.
            done = session.execute(
                update(Activity)
                .where(
                    Activity.pk == snap.pk,
                    Activity.state == "in_progress",
                    Activity.claimed_by == self.ident,
                )
                .values(**values)
            )
            if getattr(done, "rowcount", 0) != 1:
                log.warning("activity %s: lost the claim before finishing", snap.id)
                return
            append_log(session, snap.pk, line)
        metrics.activity_finished(snap.type, state, result, seconds)
        if result != "success":
            self._clean_up(snap)

    def run_one(self, snap: ActivitySnapshot) -> None:
        """Run a claimed activity to the end, whatever the handler does."""
        # Log lines written meanwhile (here, in handlers) carry the activity's id.
        with log_context(activity_id=snap.id):
            self._run_one(snap)

    def _run_one(self, snap: ActivitySnapshot) -> None:
        handler = self.handlers.get(snap.type)
        if handler is None:
            self._finish(snap, "complete", "failure", f"No handler for {snap.type}.\n")
            return
        ctx = ActivityContext(self.db, self.settings, snap)
        beating = threading.Event()

        def heartbeat() -> None:
            while not beating.wait(HEARTBEAT_SECONDS):
                with self.db.session(write=True) as session:
                    session.execute(
                        update(Activity).where(Activity.pk == snap.pk).values(heartbeat_at=utcnow())
                    )

        beat = threading.Thread(target=heartbeat, name=f"heartbeat-{snap.id}", daemon=True)
        beat.start()
        started = time.monotonic()
        try:
            handler(ctx)
        except Cancelled:
            self._finish(snap, "cancelled", None, "Cancelled.\n")
        except (TaskFailed, ArchiveError, DomainError) as exc:  # messages written for users
            log.warning("activity %s (%s) failed: %s", snap.id, snap.type, exc)
            self._finish(snap, "complete", "failure", f"Failed: {exc}\n")
        except Exception:  # a handler's failure fails its activity, not the worker
            log.exception("activity %s (%s) failed", snap.id, snap.type)
            self._finish(snap, "complete", "failure", _INTERNAL_FAILURE.format(id=snap.id))
        else:
            took = time.monotonic() - started
            self._finish(snap, "complete", "success", f"Completed in {took:.2f} s.\n")
        finally:
            beating.set()
            beat.join()

    def run_once(self) -> bool:
        """Claim and run one activity; False when there was nothing to do."""
        snap = self.claim()
        if snap is None:
            return False
        self.run_one(snap)
        return True

    def run_forever(self) -> None:
        """Loop until ``stop_event`` is set; recovers crashed activities now and then."""
        self.recover()
        last_recover = time.monotonic()
        while not self.stop_event.is_set():
            try:
                worked = self.run_once()
                if time.monotonic() - last_recover > STALE_AFTER.total_seconds() / 2:
                    self.recover()
                    last_recover = time.monotonic()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("worker loop error")
                worked = False
            if not worked and not self.stop_event.is_set():
                # Woken at once by the API in this process; polling covers other writers.
                self.wake_event.wait(self.settings.worker_poll_interval)
                self.wake_event.clear()
