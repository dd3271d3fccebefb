"""Cron specs: validation, next runs in a time zone, and the shortest interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from homeport.domain import cronspec


@pytest.mark.parametrize(
    ("spec", "gap"),
    [
        ("* * * * *", 60),
        ("*/5 * * * *", 300),
        ("0,1 5 * * *", 60),
        ("H/10 * * * *", 600),
        ("0 5 * * *", 86400),
        ("0 5 * * 1-5", 86400),
    ],
)
def test_shortest_interval(spec: str, gap: int) -> None:
    assert cronspec.shortest_interval(spec) == timedelta(seconds=gap)


def test_interval_error_states_the_rule() -> None:
    assert cronspec.interval_error("*/5 * * * *", 300) is None
    message = cronspec.interval_error("*/2 * * * *", 300)
    assert message is not None
    assert "every 120 s" in message and "300 s" in message
    assert "HOMEPORT_CRON_MIN_INTERVAL" in message


@pytest.mark.parametrize("spec", ["61 * * * *", "* * * *", "a b c d e", "* * 32 * *"])
def test_invalid_specs(spec: str) -> None:
    with pytest.raises(cronspec.CronSpecError):
        cronspec.validate(spec)


def test_next_run_in_a_time_zone_across_daylight_saving() -> None:
    summer = datetime(2026, 7, 1, tzinfo=UTC)
    winter = datetime(2026, 12, 1, tzinfo=UTC)
    assert cronspec.next_run("0 5 * * *", "Europe/Paris", summer, "x").hour == 3
    assert cronspec.next_run("0 5 * * *", "Europe/Paris", winter, "x").hour == 4
    assert cronspec.next_run("0 5 * * *", None, winter, "x").hour == 5
    with pytest.raises(cronspec.CronSpecError):
        cronspec.zone("Mars/Olympus")
