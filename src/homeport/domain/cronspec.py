"""Cron specs: validation, the next run time, and the shortest interval of a spec.

Specs have Platform.sh's five fields and may use `H` (a value hashed from the job's
identity, so each job keeps its own minute); they are read in the app's `timezone`.
croniter does the parsing and the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

# The runs looked at to find a spec's shortest interval: a week covers every
# minute/hour/weekday pattern; the run count bounds pathological specs.
_INTERVAL_HORIZON = timedelta(days=8)
_INTERVAL_RUNS = 20_000
_REFERENCE = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


class CronSpecError(ValueError):
    """The spec or time zone cannot be used; the message says why."""


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    """The app's time zone (UTC when unset); CronSpecError when unknown."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronSpecError(f"unknown time zone '{name}'") from None


def _iterator(spec: str, start: datetime, hash_id: str) -> croniter:
    try:
        return croniter(spec, start, hash_id=hash_id.encode())
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        raise CronSpecError(f"invalid cron spec '{spec}': {exc}") from None


def validate(spec: str) -> None:
    """Raise CronSpecError unless ``spec`` is a valid five-field spec."""
    if len(spec.split()) != 5:
        raise CronSpecError("expected 5 fields (minute hour day month weekday)")
    _iterator(spec, _REFERENCE, "validate").get_next(datetime)


def next_run(spec: str, timezone: str | None, after: datetime, hash_id: str) -> datetime:
    """The first run strictly after ``after`` (aware), as an aware UTC time."""
    # Runs fall on whole minutes, so the answer depends only on the minute of ``after``;
    # without `H` it does not depend on the job either. Many jobs share one answer.
    minute = after.astimezone(UTC).replace(second=0, microsecond=0)
    return _next_run(spec, timezone, minute, hash_id if "H" in spec else "")


@lru_cache(maxsize=65536)
def _next_run(spec: str, timezone: str | None, minute: datetime, hash_id: str) -> datetime:
    it = _iterator(spec, minute.astimezone(zone(timezone)), hash_id)
    nxt: datetime = it.get_next(datetime)
    return nxt.astimezone(UTC)


def shortest_interval(spec: str, hash_id: str = "validate") -> timedelta:
    """The shortest time between two consecutive runs of ``spec`` over a week."""
    it = _iterator(spec, _REFERENCE, hash_id)
    previous: datetime = it.get_next(datetime)
    shortest = timedelta(days=366)
    end = previous + _INTERVAL_HORIZON
    for _ in range(_INTERVAL_RUNS):
        current: datetime = it.get_next(datetime)
        shortest = min(shortest, current - previous)
        if current > end or shortest <= timedelta(minutes=1):
            break
        previous = current
    return shortest


def interval_error(spec: str, minimum: int) -> str | None:
    """Why ``spec`` runs too often for a minimum interval of ``minimum`` seconds."""
    gap = int(shortest_interval(spec).total_seconds())
    if gap >= minimum:
        return None
    return (
        f"'{spec}' runs every {gap} s at its most frequent; crons may not run more "
        f"often than every {minimum} s (HOMEPORT_CRON_MIN_INTERVAL)"
    )
