"""Failure-based rate limiting for token exchanges and logins.

Kept in process memory: each server process limits on its own. That bounds guessing
per process without a round trip to the database on every attempt.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

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

    def check(self, keys: Iterable[str]) -> None:
        """Raise TooManyAttempts when any key has used up its failures."""
        now = self._clock()
        with self._lock:
            for key in keys:
                stamps = self._prune(key, now)
                if len(stamps) >= self.limit:
                    retry = max(1, math.ceil(stamps[0] + self.window - now))
                    raise TooManyAttempts(
                        "Too many failed attempts. Try again later.", retry_after=retry
                    )

    def fail(self, keys: Iterable[str]) -> None:
        """Record one failure against each key."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bound memory under a flood of keys
                for key in list(self._failures):
                    self._prune(key, now)
