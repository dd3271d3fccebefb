"""The failure limiter: attempts are reserved before they are checked."""

from __future__ import annotations

import threading

import pytest

from homeport.domain.errors import TooManyAttempts
from homeport.domain.ratelimit import FailureLimiter


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_blocks_after_failures_and_recovers_after_window() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        limiter.reserve(["a"])  # never released: three failures
    with pytest.raises(TooManyAttempts) as info:
        limiter.reserve(["a"])
    assert 1 <= info.value.retry_after <= 60
    limiter.reserve(["b"])  # other keys are unaffected
    clock.now += 61
    limiter.reserve(["a"])


def test_any_blocked_key_blocks_and_a_refusal_takes_nothing() -> None:
    limiter = FailureLimiter(limit=1, window=10, clock=FakeClock())
    limiter.reserve(["account:x"])
    with pytest.raises(TooManyAttempts):
        limiter.reserve(["address:1.2.3.4", "account:x"])
    assert limiter.remaining("address:1.2.3.4") == 1


def test_released_attempts_do_not_count() -> None:
    limiter = FailureLimiter(limit=2, window=60, clock=FakeClock())
    for _ in range(10):
        limiter.release(limiter.reserve(["a", "b"]))
    assert limiter.remaining("a") == 2 and limiter.remaining("b") == 2


def test_concurrent_attempts_cannot_exceed_the_limit() -> None:
    """Every attempt in flight holds its place: 100 at once pass the check 10 times."""
    limiter = FailureLimiter(limit=10, window=60)
    start = threading.Barrier(100)
    passed: list[int] = []

    def attempt() -> None:
        start.wait()
        try:
            limiter.reserve(["address:1", "account:a"])
        except TooManyAttempts:
            return
        passed.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 10
