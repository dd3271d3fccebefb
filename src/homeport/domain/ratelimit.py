"""Failure-based rate limiting for token exchanges and logins.

Kept in process memory: each server process limits on its own. That bounds guessing
per process without a round trip to the database on every attempt. An attempt is
reserved before the (slow) check and given back only when it succeeds, so concurrent
guesses cannot all pass a check made before any of them failed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from homeport.domain.errors import TooManyAttempts


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
                    retry = max(1, math.ceil(stamps[0] + self.window - now))
                    raise TooManyAttempts(
                        "Too many failed attempts. Try again later.", retry_after=retry
                    )
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
