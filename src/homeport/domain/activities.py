"""Activities: every change is recorded with its actor, state, result and log."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from homeport.domain.errors import Conflict, Invalid, NotFound
from homeport.domain.ids import short_id
from homeport.store.models import (
    Account,
    Activity,
    ActivityEnvironment,
    ActivityLog,
    Environment,
)
from homeport.store.types import utcnow

STATES = ("pending", "in_progress", "complete", "cancelled")
RESULTS = ("success", "failure")
MAX_COUNT = 1000
DEFAULT_COUNT = 100
# Running activities of these types stop when cancelled; pending ones always can be.
# A running build stops when cancelled (the previous deployment keeps serving).
CANCELLABLE_TYPES = (
    "test.only.slow",
    "environment.cron",
    "environment.source-operation",
    "environment.push",
    "environment.redeploy",
)
# Set on a session that recorded pending work, so its owner can wake a worker.
PENDING_ACTIVITY_KEY = "homeport.pending_activity"
SYSTEM_ACTOR = {"id": "admin", "display_name": "Homeport Bot", "kind": "system"}


def actor_payload(account: Account | None) -> dict[str, Any]:
    """``payload.user``: who did it, machine users marked as such."""
    if account is None:
        return dict(SYSTEM_ACTOR)
    return {
        "id": account.id,
        "display_name": account.display_name,
        "username": account.username,
        "kind": account.kind,
        "created_at": account.created_at.isoformat() if account.created_at else None,
        "updated_at": account.updated_at.isoformat() if account.updated_at else None,
    }


def user_markup(account: Account | None) -> tuple[str, str]:
    """The actor as ``(description markup, plain text)``."""
    who = actor_payload(account)
    name = str(who["display_name"])
    return f'<user data-id="{html.escape(str(who["id"]))}">{html.escape(name)}</user>', name


def env_markup(name: str, title: str | None = None) -> tuple[str, str]:
    """An environment as ``(markup, plain text)``."""
    shown = title or name
    return f'<environment data-id="{html.escape(name)}">{html.escape(shown)}</environment>', shown


def strong(value: str) -> tuple[str, str]:
    """A highlighted value as ``(markup, plain text)``."""
    return f"<strong>{html.escape(value)}</strong>", value


@dataclass
class Phrase:
    """Builds ``description`` (markup) and ``text`` (plain) side by side."""

    parts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, part: tuple[str, str] | str) -> Phrase:
        """Append markup (a pair) or plain words (escaped in the markup)."""
        self.parts.append(part if isinstance(part, tuple) else (html.escape(part), part))
        return self

    @property
    def description(self) -> str:
        """The markup version."""
        return "".join(m for m, _ in self.parts)

    @property
    def text(self) -> str:
        """The plain version."""
        return "".join(t for _, t in self.parts)


def record(
    session: Session,
    *,
    project_id: str,
    type: str,
    actor: Account | None,
    phrase: Phrase,
    environments: Sequence[str] = (),
    payload: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    pending: bool = False,
    queue_key: str | None = None,
    log: Iterable[str] = (),
    activity_id: str | None = None,
    flush: bool = True,
) -> Activity:
    """Record an activity in the caller's transaction.

    Quick changes (``pending=False``) complete at once with result success; long work
    (``pending=True``) waits for the worker, one at a time per ``queue_key``. Without
    ``flush`` (no log lines) the row is written with the transaction's other rows.
    """
    now = utcnow()
    who = actor_payload(actor)
    activity = Activity(
        id=activity_id or short_id(),
        project_id=project_id,
        type=type,
        environments=list(environments),
        queue_key=queue_key,
        state="pending" if pending else "complete",
        result=None if pending else "success",
        completion_percent=0 if pending else 100,
        parameters={"user": who["id"], **(parameters or {})},
        payload={"user": who, **(payload or {})},
        description=phrase.description,
        text=phrase.text,
        actor_id=actor.id if actor else None,
        created_at=now,
        updated_at=now,
        started_at=None if pending else now,
        completed_at=None if pending else now,
    )
    # The normalised copy that environment lists and visibility look up by index.
    activity.environment_rows = [
        ActivityEnvironment(environment=name, project_id=project_id, created_at=now)
        for name in dict.fromkeys(environments)
    ]
    session.add(activity)
    lines = list(log) or ([] if pending else [phrase.text])
    if flush or lines:
        session.flush()
    if pending:
        session.info[PENDING_ACTIVITY_KEY] = True
    for seq, message in enumerate(lines, start=1):
        session.add(
            ActivityLog(activity_pk=activity.pk, seq=seq, timestamp=now, message=_line(message))
        )
    return activity


def _line(message: str) -> str:
    # Clients concatenate messages as they arrive, so each one ends its own line.
    return message if message.endswith("\n") else message + "\n"


def append_log(session: Session, activity_pk: int, message: str) -> None:
    """Append one log line (its own sequence number, so readers can resume)."""
    last = session.scalar(
        select(func.max(ActivityLog.seq)).where(ActivityLog.activity_pk == activity_pk)
    )
    session.add(ActivityLog(activity_pk=activity_pk, seq=(last or 0) + 1, message=_line(message)))


def log_lines(session: Session, activity_pk: int, after_seq: int = 0) -> Sequence[ActivityLog]:
    """Log lines after ``after_seq``, in order."""
    after_seq = max(0, min(after_seq, 2**62))  # any cursor a client sends is safe in SQL
    query = (
        select(ActivityLog)
        .where(ActivityLog.activity_pk == activity_pk, ActivityLog.seq > after_seq)
        .order_by(ActivityLog.seq)
    )
    return session.scalars(query).all()


_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def parse_starts_at(raw: str) -> datetime:
    """An ISO 8601 time or UNIX timestamp; ``+00:00`` may arrive as `` 00:00``.

    Anything unreadable or outside years 1 to 9998 (in UTC) raises Invalid: no input
    may reach the database as an overflow.
    """
    text = raw.strip()
    if len(text) > 64:
        raise Invalid.field("starts_at", "Not a date: too long.")
    try:
        if re.fullmatch(r"\d{1,20}(\.\d{1,9})?", text):
            value = datetime.fromtimestamp(float(text), UTC)
        else:
            # The PHP CLI does not URL-encode '+', so the offset's sign arrives as a space.
            text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text).replace("Z", "+00:00")
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise Invalid.field("starts_at", f"Not a date, or out of range: {raw[:64]!r}") from None
    if not _EARLIEST <= value <= _LATEST:
        raise Invalid.field("starts_at", "Out of range: give a time between years 1 and 9998.")
    return value


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _type_condition(pattern: str) -> ColumnElement[bool]:
    """``*``/``%`` wildcards; a name without a dot also matches ``<prefix>.<name>``.

    A full type name without wildcards is an equality (types are lower case, and SQLite's
    LIKE ignores ASCII case), so the (project, type, time) index serves it.
    """
    pattern = pattern.strip()
    if "." in pattern and "*" not in pattern and "%" not in pattern:
        return Activity.type == pattern.lower()
    like = _like_escape(pattern).replace("*", "%").replace("\\%", "%")
    conditions = [Activity.type.like(like, escape="\\")]
    if "." not in pattern:
        conditions.append(Activity.type.like("%." + like, escape="\\"))
    return or_(*conditions)


def env_condition(names: Iterable[str]) -> ColumnElement[bool]:
    """Activities that concern any of ``names`` (a look-up in activity_environments)."""
    wanted = sorted(set(names))
    if not wanted:
        return false()
    return exists().where(
        ActivityEnvironment.activity_pk == Activity.pk,
        ActivityEnvironment.environment.in_(wanted),
    )


def env_type_condition(project_id: str, env_types: Iterable[str]) -> ColumnElement[bool]:
    """Activities that concern an existing environment of one of ``env_types``: one
    join, however many environments the project has."""
    types = sorted(set(env_types))
    if not types:
        return false()
    return exists().where(
        ActivityEnvironment.activity_pk == Activity.pk,
        Environment.project_id == project_id,
        Environment.name == ActivityEnvironment.environment,
        Environment.type.in_(types),
    )


def no_environment() -> ColumnElement[bool]:
    """Project-wide activities (no environment)."""
    return type_coerce(Activity.environments, Text) == "[]"


@dataclass(frozen=True)
class ActivityFilter:
    """The query parameters of an activity list."""

    types: Sequence[str] = ()
    states: Sequence[str] = ()
    results: Sequence[str] = ()
    starts_at: datetime | None = None
    count: int = DEFAULT_COUNT

    def validate(self) -> None:
        """Raise Invalid for unknown states, results or counts."""
        for state in self.states:
            if state not in (*STATES, "staged", "scheduled"):
                raise Invalid.field("state", f"Unknown state: {state!r}")
        for result in self.results:
            if result not in RESULTS:
                raise Invalid.field("result", f"Unknown result: {result!r}")
        if not 1 <= self.count <= MAX_COUNT:
            raise Invalid.field("count", f"Between 1 and {MAX_COUNT}.")


def list_activities(
    session: Session,
    project_id: str,
    flt: ActivityFilter,
    visible: ColumnElement[bool] | None = None,
    environment: str | None = None,
) -> Sequence[Activity]:
    """Activities newest first; ``starts_at`` is an inclusive upper bound on created_at.

    With ``environment``, only that environment's, read in order from the
    (project, environment, time) index of activity_environments.
    """
    flt.validate()
    if environment is not None:
        return _list_environment_activities(session, project_id, flt, visible, environment)
    query = select(Activity).where(Activity.project_id == project_id)
    if visible is not None:
        query = query.where(visible)
    query = _filtered(query, flt)
    if flt.starts_at is not None:
        query = query.where(Activity.created_at <= flt.starts_at)
    query = query.order_by(Activity.created_at.desc(), Activity.pk.desc()).limit(flt.count)
    return session.scalars(query).all()


def _filtered(query: Any, flt: ActivityFilter) -> Any:
    if flt.types:
        query = query.where(or_(*(_type_condition(t) for t in flt.types)))
    if flt.states:
        query = query.where(Activity.state.in_(flt.states))
    if flt.results:
        query = query.where(Activity.result.in_(flt.results))
    return query


def _list_environment_activities(
    session: Session,
    project_id: str,
    flt: ActivityFilter,
    visible: ColumnElement[bool] | None,
    environment: str,
) -> Sequence[Activity]:
    ae = ActivityEnvironment
    query = (
        select(Activity)
        .join(ae, ae.activity_pk == Activity.pk)
        .where(ae.project_id == project_id, ae.environment == environment)
    )
    if visible is not None:
        query = query.where(visible)
    query = _filtered(query, flt)
    if flt.starts_at is not None:
        query = query.where(ae.created_at <= flt.starts_at)
    # ae.created_at is the activity's own; ordering by the index's columns walks it.
    query = query.order_by(ae.created_at.desc(), ae.activity_pk.desc()).limit(flt.count)
    return session.scalars(query).all()


def get_activity(session: Session, project_id: str, activity_id: str) -> Activity:
    """One activity of the project; raises NotFound."""
    row = session.scalar(
        select(Activity).where(Activity.project_id == project_id, Activity.id == activity_id)
    )
    if row is None:
        raise NotFound("Activity not found.")
    return row


def is_cancellable(
    activity: Activity, cancellable_types: Iterable[str] = CANCELLABLE_TYPES
) -> bool:
    """Pending activities can always be cancelled; running ones if their type allows."""
    if activity.state == "pending":
        return True
    return activity.state == "in_progress" and activity.type in set(cancellable_types)


def cancel(session: Session, activity: Activity) -> None:
    """Cancel a pending activity now, or ask the worker to stop a running one."""
    if not is_cancellable(activity):
        raise Conflict("This activity cannot be cancelled.")
    now = utcnow()
    if activity.state == "pending":
        done = session.execute(
            update(Activity)
            .where(and_(Activity.pk == activity.pk, Activity.state == "pending"))
            .values(state="cancelled", cancelled_at=now, completed_at=now, updated_at=now)
        )
        if getattr(done, "rowcount", 0) != 1:
            raise Conflict("The activity started meanwhile; try again.")
        session.refresh(activity)
        append_log(session, activity.pk, "Cancelled before it started.")
    else:
        activity.cancel_requested = True
        append_log(session, activity.pk, "Cancellation requested.")


def queued_of_types(
    session: Session, queue_key: str, types: Sequence[str] | None
) -> Activity | None:
    """The oldest pending or running activity on ``queue_key`` (of ``types``, if given)."""
    query = select(Activity).where(
        Activity.queue_key == queue_key, Activity.state.in_(("pending", "in_progress"))
    )
    if types is not None:
        query = query.where(Activity.type.in_(list(types)))
    return session.scalar(query.order_by(Activity.pk).limit(1))
