"""The values and errors of the runtime driver contract (runtime/driver.py).

They live apart from the Protocol so that a driver (runtime/local.py) can use them
while runtime/driver.py imports that driver to construct it: no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass


class DeployFailed(Exception):
    """The deploy could not finish; the message is written for the activity log."""


class CronNotFound(Exception):
    """The deployed configuration has no such cron; the message is written for the
    activity log."""


@dataclass(frozen=True)
class CronRun:
    """How one cron run ended: its exit status, whether it was stopped for running
    past ``timeout`` seconds, or because it was cancelled."""

    returncode: int
    timeout: int
    timed_out: bool = False
    cancelled: bool = False
