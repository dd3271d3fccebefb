"""The failure limiter."""

from __future__ import annotations

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
        limiter.check(["a"])
        limiter.fail(["a"])
    with pytest.raises(TooManyAttempts) as info:
        limiter.check(["a"])
    assert 1 <= info.value.retry_after <= 60
    limiter.check(["b"])  # other keys are unaffected
    clock.now += 61
    limiter.check(["a"])


def test_any_blocked_key_blocks() -> None:
    limiter = FailureLimiter(limit=1, window=10, clock=FakeClock())
    limiter.fail(["account:x"])
    with pytest.raises(TooManyAttempts):
        limiter.check(["address:1.2.3.4", "account:x"])
