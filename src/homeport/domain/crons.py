"""Crons of deployed apps: their schedule rows, and the `environment.cron` activities
that run them (platform-deploy.md §6).

A deploy writes the rows (``sync``); the scheduler asks for what is due and starts
each run with a conditional update, so two schedulers never start one run twice; a
scheduler that was down starts each missed job once, then follows the spec again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from homeport.domain import activities
from homeport.domain import environments as envs
from homeport.domain.activities import Phrase, strong
from homeport.domain.cronspec import CronSpecError, next_run
from homeport.domain.errors import Conflict, Forbidden, NotFound
from homeport.domain.ids import short_id
from homeport.domain.policy import ProjectGrants
from homeport.store.models import Account, Activity, CronJob, Environment
from homeport.store.types import utcnow

CRON_TYPE = "environment.cron"


@dataclass(frozen=True)
class JobSpec:
    """One cron as the deployed configuration defines it."""

    app: str
    name: str
    spec: str
    timezone: str | None
    definition: dict[str, Any]


def hash_id(project_id: str, machine_name: str, app: str, name: str) -> str:
    """What `H` in a spec hashes: the job's identity, so its minute never moves."""
    return f"{project_id}:{machine_name}:{app}:{name}"


def _next(job: CronJob, machine_name: str, after: datetime) -> datetime:
    return next_run(
        job.spec, job.timezone, after, hash_id(job.project_id, machine_name, job.app, job.name)
    )


def sync(session: Session, env: Environment, jobs: Sequence[JobSpec]) -> None:
    """Make the environment's rows match its deployed crons; a new or changed spec
    is scheduled from now, an unchanged one keeps its next run."""
    now = utcnow()
    rows = {
        (r.app, r.name): r
        for r in session.scalars(select(CronJob).where(CronJob.environment_pk == env.pk))
    }
    wanted = {(j.app, j.name): j for j in jobs}
    for key, row in rows.items():
        if key not in wanted:
            session.delete(row)
    for key, job in wanted.items():
        found = rows.get(key)
        if found is None:
            row = CronJob(
                environment_pk=env.pk, project_id=env.project_id, app=job.app, name=job.name
            )
            session.add(row)
        elif found.spec == job.spec and found.timezone == job.timezone:
            found.definition = job.definition
            continue
        else:
            row = found
        row.spec, row.timezone, row.definition = job.spec, job.timezone, job.definition
        try:
            row.next_run_at = _next(row, env.machine_name, now)
        except CronSpecError:  # refused at push; an older commit may still carry one
            if row.pk is None:
                session.expunge(row)
            else:
                session.delete(row)


def clear(session: Session, env: Environment) -> None:
    """Forget the environment's crons (its deployment is gone: deactivation)."""
    for row in session.scalars(select(CronJob).where(CronJob.environment_pk == env.pk)):
        session.delete(row)


def list_jobs(session: Session, env: Environment) -> Sequence[CronJob]:
    """The environment's crons, by app and name."""
    return session.scalars(
        select(CronJob).where(CronJob.environment_pk == env.pk).order_by(CronJob.app, CronJob.name)
    ).all()


def last_runs(session: Session, jobs: Sequence[CronJob]) -> dict[str, Activity]:
    """The latest activity of each job, by activity id (one query)."""
    ids = [j.last_activity_id for j in jobs if j.last_activity_id]
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Activity).where(Activity.id.in_(ids)))}


def find_job(session: Session, env: Environment, name: str, app: str | None) -> CronJob:
    """The environment's cron ``name`` (of ``app`` when several apps have one)."""
    query = select(CronJob).where(CronJob.environment_pk == env.pk, CronJob.name == name)
    if app:
        query = query.where(CronJob.app == app)
    rows = session.scalars(query.order_by(CronJob.app)).all()
    if not rows:
        raise NotFound(f"Cron not found: {name}")
    if len(rows) > 1:
        apps = ", ".join(r.app for r in rows)
        raise Conflict(f"Several applications have a cron named {name} ({apps}): choose one.")
    return rows[0]


def next_due(session: Session) -> datetime | None:
    """When the earliest job of an active environment is due."""
    return session.scalar(
        select(func.min(CronJob.next_run_at))
        .join(Environment, Environment.pk == CronJob.environment_pk)
        .where(Environment.status == "active")
    )


def due_jobs(
    session: Session, now: datetime, limit: int = 500
) -> Sequence[tuple[CronJob, Environment]]:
    """Jobs of active environments whose run time has come, earliest first, each with
    its environment (one query)."""
    rows = session.execute(
        select(CronJob, Environment)
        .join(Environment, Environment.pk == CronJob.environment_pk)
        .where(CronJob.next_run_at <= now, Environment.status == "active")
        .order_by(CronJob.next_run_at, CronJob.pk)
        .limit(limit)
    ).all()
    return [(job, env) for job, env in rows]


# Moves a job to its next run only if no other scheduler did since it was read.
_CLAIM = (
    update(CronJob)
    .where(CronJob.pk == bindparam("b_pk"), CronJob.next_run_at == bindparam("b_due"))
    .values(next_run_at=bindparam("b_next"), last_scheduled_at=bindparam("b_now"))
)
_CLAIM_AND_RECORD = _CLAIM.values(last_activity_id=bindparam("b_activity"))


def start_due(
    session: Session, due: Sequence[tuple[CronJob, Environment]], now: datetime
) -> list[Activity]:
    """Start the runs ``due`` is due for; returns the activities created. A job another
    scheduler just moved is skipped (it started the run); a job whose previous run
    still waits its turn is moved on without a new run (the trigger adds nothing)."""
    waiting = _pending_ids(session, [job.last_activity_id for job, _env in due])
    connection = session.connection()
    started: list[Activity] = []
    for job, env in due:
        scheduled_for = job.next_run_at
        try:
            # From now, not from the missed time: a late scheduler runs a missed job once.
            following = _next(job, env.machine_name, max(now, scheduled_for))
        except CronSpecError:
            session.delete(job)
            continue
        params: dict[str, Any] = {
            "b_pk": job.pk,
            "b_due": scheduled_for,
            "b_next": following,
            "b_now": now,
        }
        if job.last_activity_id in waiting:
            connection.execute(_CLAIM, params)
            continue
        params["b_activity"] = short_id()
        moved = connection.execute(_CLAIM_AND_RECORD, params)
        if moved.rowcount != 1:
            continue
        started.append(_record_run(session, job, env, None, scheduled_for, params["b_activity"]))
    return started


def _pending_ids(session: Session, ids: Sequence[str | None]) -> set[str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Activity.id).where(Activity.id.in_(wanted), Activity.state == "pending")
        )
    )


def run_now(session: Session, grants: ProjectGrants, env: Environment, job: CronJob) -> Activity:
    """Queue a run of ``job`` at once, under the caller's name (admin on the type)."""
    if not grants.can_env("run_cron", env.type):
        raise Forbidden("You may not run crons on this environment.")
    if env.status != "active":
        raise Conflict("Crons run only on an active environment.")
    activity = _record_run(session, job, env, grants.account, utcnow())
    job.last_activity_id = activity.id
    return activity


def _record_run(
    session: Session,
    job: CronJob,
    env: Environment,
    actor: Account | None,
    scheduled_for: datetime,
    activity_id: str | None = None,
) -> Activity:
    # The scheduler records many at once: they are written together at commit.
    return activities.record(
        session,
        project_id=env.project_id,
        type=CRON_TYPE,
        actor=actor,
        phrase=Phrase().add(activities.user_markup(actor)).add(" ran cron ").add(strong(job.name)),
        environments=[env.name],
        payload={
            "project": env.project_id,
            "environment": {"id": env.name, "name": env.name, "title": env.title},
            "cron": job.name,
            "application": job.app,
            "production": env.type == "production",
            "scheduled_for": scheduled_for.isoformat(),
        },
        parameters={
            "cluster": f"{env.project_id}-{env.machine_name}",
            "environment": env.name,
            "application": job.app,
            "cron": job.name,
            "spec": dict(job.definition),
        },
        pending=True,
        queue_key=envs.queue_key(env.project_id, env.name),
        activity_id=activity_id,
        flush=activity_id is None,
    )
