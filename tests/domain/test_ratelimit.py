"""The failure limiters: attempts are reserved before they are checked, in memory
(one process) or in the database (several processes: the test's store, SQLite or
PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from homeport.domain.errors import TooManyAttempts
from homeport.domain.ratelimit import FailureLimiter, Limiter, SharedFailureLimiter
from homeport.web.state import AppState

Make = Callable[..., Limiter]


@pytest.fixture(params=["memory", "shared"])
def make(request: pytest.FixtureRequest) -> Make:
    """Builds a limiter of the parameter's kind (shared ones use the test's database)."""
    if request.param == "memory":
        return FailureLimiter
    state: AppState = request.getfixturevalue("state")

    def shared(limit: int, window: float, **kw: Any) -> Limiter:
        return SharedFailureLimiter(state.db, limit, window, **kw)

    return shared


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_blocks_after_failures_and_recovers_after_window(make: Make) -> None:
    clock = FakeClock()
    limiter = make(limit=3, window=60, clock=clock)
    for _ in range(3):
        limiter.reserve(["a"])  # never released: three failures
    with pytest.raises(TooManyAttempts) as info:
        limiter.reserve(["a"])
    assert 1 <= info.value.retry_after <= 60
    limiter.reserve(["b"])  # other keys are unaffected
    clock.now += 61
    limiter.reserve(["a"])


def test_any_blocked_key_blocks_and_a_refusal_takes_nothing(make: Make) -> None:
    limiter = make(limit=1, window=10, clock=FakeClock())
    limiter.reserve(["account:x"])
    with pytest.raises(TooManyAttempts):
        limiter.reserve(["address:1.2.3.4", "account:x"])
    assert limiter.remaining("address:1.2.3.4") == 1


def test_released_attempts_do_not_count(make: Make) -> None:
    limiter = make(limit=2, window=60, clock=FakeClock())
    for _ in range(10):
        limiter.release(limiter.reserve(["a", "b"]))
    assert limiter.remaining("a") == 2 and limiter.remaining("b") == 2


def test_concurrent_attempts_cannot_exceed_the_limit(make: Make) -> None:
    """Every attempt in flight holds its place: 100 at once pass the check 10 times,
    even spread over two limiters on one database (two server processes)."""
    first = make(limit=10, window=60)
    second = make(limit=10, window=60) if not isinstance(first, FailureLimiter) else first
    start = threading.Barrier(100)
    passed: list[int] = []

    def attempt(limiter: Limiter) -> None:
        start.wait()
        try:
            limiter.reserve(["address:1", "account:a"])
        except TooManyAttempts:
            return
        passed.append(1)

    threads = [
        threading.Thread(target=attempt, args=(first if i % 2 else second,)) for i in range(100)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 10


def test_a_shared_limit_holds_across_processes(state: AppState) -> None:
    clock = FakeClock()
    node_a = SharedFailureLimiter(state.db, limit=3, window=60, clock=clock)
    node_b = SharedFailureLimiter(state.db, limit=3, window=60, clock=clock)
    node_a.reserve(["address:9"])
    node_b.reserve(["address:9"])
    node_a.release(node_a.reserve(["address:9"]))  # a success gives its place back
    node_b.reserve(["address:9"])
    with pytest.raises(TooManyAttempts):
        node_a.reserve(["address:9"])
    assert node_b.remaining("address:9") == 0
    clock.now += 61
    assert node_a.remaining("address:9") == 3
    node_b.reserve(["address:9"])
