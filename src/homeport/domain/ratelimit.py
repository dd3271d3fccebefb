"""Failure-based rate limiting for token exchanges and logins.

An attempt is reserved before the (slow) check and given back only when it succeeds,
so concurrent guesses cannot all pass a check made before any of them failed. One
SQLite server process keeps the counts in memory (``FailureLimiter``); on PostgreSQL,
where several server processes share the database, the counts live in the database
(``SharedFailureLimiter``), so a limit holds across all of them.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, func, select, text

from homeport.domain.errors import TooManyAttempts
from homeport.store.db import Database
from homeport.store.models import AuthFailure


class Limiter(Protocol):
    """What sign-in code needs of a rate limiter."""

    def reserve(self, keys: Sequence[str]) -> Reservation:
        """Take one attempt from every key's allowance (TooManyAttempts if none left)."""
        ...

    def release(self, reservation: Reservation) -> None:
        """The reserved attempt succeeded: give it back."""
        ...

    def remaining(self, key: str) -> int:
        """Attempts ``key`` has left in the current window."""
        ...


class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def reserve(self, keys: Sequence[str]) -> Reservation:
        """Take one attempt from every key's allowance, atomically, before checking.

        Raises TooManyAttempts (taking nothing) when any key has none left. The
        attempt counts as a failure until :meth:`release` says it succeeded, so a burst
        of concurrent guesses is limited exactly as a sequence of them would be.
        """
        now = self._clock()
        with self._lock:
            for key in keys:
                stamps = self._prune(key, now)
                if len(stamps) >= self.limit:
                    raise _too_many(stamps[0], self.window, now)
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bound memory under a flood of keys
                for key in list(self._failures):
                    self._prune(key, now)
        return Reservation(tuple(keys), now)

    def release(self, reservation: Reservation) -> None:
        """The reserved attempt succeeded: give it back to every key's allowance."""
        with self._lock:
            for key in reservation.keys:
                stamps = self._failures.get(key)
                if stamps is not None and reservation.stamp in stamps:
                    stamps.remove(reservation.stamp)
                    if not stamps:
                        del self._failures[key]

    def remaining(self, key: str) -> int:
        """Attempts ``key`` has left in the current window."""
        with self._lock:
            return max(0, self.limit - len(self._prune(key, self._clock())))


@dataclass(frozen=True)
class Reservation:
    """One attempt taken from some keys' allowances."""

    keys: tuple[str, ...]
    stamp: float
    token: str = ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _too_many(first: float, window: float, now: float) -> TooManyAttempts:
    retry = max(1, math.ceil(first + window - now))
    return TooManyAttempts("Too many failed attempts. Try again later.", retry_after=retry)


class SharedFailureLimiter:
    """``FailureLimiter``'s rules with the counts in the database, for several server
    processes. The wall clock is the reference (``homeport doctor`` checks the nodes'
    skew); on PostgreSQL each key's check-and-take holds an advisory lock."""

    # Every this many reservations, rows of keys nobody touched again are swept.
    SWEEP_EVERY = 200

    def __init__(
        self, db: Database, limit: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.limit = limit
        self.window = window
        self._clock = clock
        self._calls = itertools.count()

    def reserve(self, keys: Sequence[str]) -> Reservation:
        """As ``FailureLimiter.reserve``, across every process on the database."""
        now = self._clock()
        digests = sorted({_digest(k) for k in keys})
        token = secrets.token_hex(8)
        with self.db.session(write=True) as session:
            if not self.db.is_sqlite:
                for digest in digests:  # sorted: two reservations never wait on each other
                    session.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": digest}
                    )
            old = AuthFailure.at <= now - self.window
            if next(self._calls) % self.SWEEP_EVERY == 0:
                session.execute(delete(AuthFailure).where(old))
            else:
                session.execute(delete(AuthFailure).where(AuthFailure.key.in_(digests), old))
            counts = session.execute(
                select(AuthFailure.key, func.count(), func.min(AuthFailure.at))
                .where(AuthFailure.key.in_(digests))
                .group_by(AuthFailure.key)
            ).all()
            for _key, count, first in counts:
                if count >= self.limit:
                    raise _too_many(float(first), self.window, now)
            session.add_all(AuthFailure(key=d, at=now, reservation=token) for d in digests)
        return Reservation(tuple(keys), now, token)

    def release(self, reservation: Reservation) -> None:
        """The reserved attempt succeeded: remove its rows."""
        with self.db.session(write=True) as session:
            session.execute(delete(AuthFailure).where(AuthFailure.reservation == reservation.token))

    def remaining(self, key: str) -> int:
        """Attempts ``key`` has left in the current window."""
        now = self._clock()
        with self.db.session() as session:
            used = session.scalar(
                select(func.count()).where(
                    AuthFailure.key == _digest(key), AuthFailure.at > now - self.window
                )
            )
        return max(0, self.limit - int(used or 0))
