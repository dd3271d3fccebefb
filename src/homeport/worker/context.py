"""What a running activity's handler gets: logging, progress, cancellation, the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from homeport.domain.activities import append_log
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Activity
from homeport.store.types import utcnow


class Cancelled(Exception):
    """Raised inside a handler when someone cancelled its activity."""


class TaskFailed(Exception):
    """A handler's failure whose message is written for the activity log.

    Any other exception is logged on the server only: its text (paths, errno, SQL)
    never reaches a log that project viewers read.
    """


@dataclass(frozen=True)
class ActivitySnapshot:
    """The fields of the claimed activity a handler reads."""

    pk: int
    id: str
    type: str
    project_id: str
    environments: list[str]
    parameters: dict[str, Any]
    payload: dict[str, Any]
    actor_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Activity) -> ActivitySnapshot:
        """Copy a row so the handler holds no session-bound object."""
        return cls(
            pk=row.pk,
            id=row.id,
            type=row.type,
            project_id=row.project_id,
            environments=list(row.environments),
            parameters=dict(row.parameters),
            payload=dict(row.payload),
            actor_id=row.actor_id,
            created_at=row.created_at,
        )


class ActivityContext:
    """Handed to a handler; every call commits at once so readers see it live."""

    def __init__(self, db: Database, settings: Settings, activity: ActivitySnapshot) -> None:
        self.db = db
        self.settings = settings
        self.activity = activity

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction of the handler's own."""
        with self.db.session(write=True) as session:
            yield session

    def log(self, message: str) -> None:
        """Append a log line (a newline is added when missing)."""
        text = message if message.endswith("\n") else message + "\n"
        with self.session() as session:
            append_log(session, self.activity.pk, text)
            self._touch(session)

    def progress(self, percent: int) -> None:
        """Move ``completion_percent`` (kept below 100 until the activity completes)."""
        with self.session() as session:
            self._touch(session, completion_percent=max(0, min(99, int(percent))))

    def set_payload(self, **values: Any) -> None:
        """Merge values into the activity's payload (e.g. ``backup_name``)."""
        with self.session() as session:
            row = session.get(Activity, self.activity.pk)
            if row is not None:
                row.payload = {**row.payload, **values}
                self.activity.payload.update(values)

    def check_cancelled(self) -> None:
        """Raise Cancelled when a cancellation was requested."""
        with self.db.session() as session:
            row = session.get(Activity, self.activity.pk)
            if row is not None and row.cancel_requested:
                raise Cancelled()

    def _touch(self, session: Session, **values: Any) -> None:
        now = utcnow()
        session.execute(
            update(Activity)
            .where(Activity.pk == self.activity.pk)
            .values(heartbeat_at=now, updated_at=now, **values)
        )
