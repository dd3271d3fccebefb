"""The worker's Prometheus metrics: finished activities and written backups.

They count in the process that runs the worker; ``/metrics`` of that process shows them
(see docs/operations.md). Labels are activity types and states, never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LONG_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

ACTIVITIES = Counter(
    "homeport_activities",
    "Activities the worker finished, by type, state and result.",
    ("type", "state", "result"),
)
ACTIVITY_SECONDS = Histogram(
    "homeport_activity_duration_seconds",
    "Seconds from an activity's start to its end, by type.",
    ("type",),
    buckets=_LONG_BUCKETS,
)
BACKUP_BYTES = Counter(
    "homeport_backup_bytes",
    "Bytes of backup archives written (compressed).",
)
BACKUP_SECONDS = Histogram(
    "homeport_backup_duration_seconds",
    "Seconds a completed backup took (archive, store and verify).",
    buckets=_LONG_BUCKETS,
)


def activity_finished(kind: str, state: str, result: str | None, seconds: float | None) -> None:
    """Count one finished activity (and its duration when it ran)."""
    ACTIVITIES.labels(kind, state, result or "none").inc()
    if seconds is not None:
        ACTIVITY_SECONDS.labels(kind).observe(max(seconds, 0.0))


def backup_written(archive_bytes: int, seconds: float) -> None:
    """Count one completed backup."""
    BACKUP_BYTES.inc(max(archive_bytes, 0))
    BACKUP_SECONDS.observe(max(seconds, 0.0))
