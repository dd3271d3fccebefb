"""Crons of an environment (Homeport extensions): the list with last and next runs,
and running one now (`platform cron:list`, `platform cron:run`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from homeport.domain import crons
from homeport.store.models import Activity, CronJob, Environment
from homeport.web.deps import DbSession
from homeport.web.hal import env_path, link
from homeport.web.project_deps import ProjectContext, ProjectCtx
from homeport.web.schemas import Strict, iso

router = APIRouter(tags=["Environment Crons"])
ENV = "/projects/{project_id}/environments/{environment_id}"


class RunInput(Strict):
    """Which app's cron, when several apps have one of that name."""

    application: str | None = Field(default=None, max_length=64)


def _last_run(activity: Activity | None) -> dict[str, Any] | None:
    if activity is None:
        return None
    return {
        "activity": activity.id,
        "state": activity.state,
        "result": activity.result,
        "created_at": iso(activity.created_at),
        "started_at": iso(activity.started_at),
        "completed_at": iso(activity.completed_at),
    }


def cron_view(
    ctx: ProjectContext, env: Environment, job: CronJob, last: Activity | None
) -> dict[str, Any]:
    """One cron: its definition, its last run and its next one."""
    path = f"{env_path(ctx.project.id, env.name)}/crons/{job.name}"
    links: dict[str, Any] = {"self": link(path)}
    if env.status == "active" and ctx.grants.can_env("run_cron", env.type):
        links["#run"] = link(f"{path}/run", "POST")
    definition = dict(job.definition)
    return {
        "id": f"{job.app}:{job.name}",
        "name": job.name,
        "application": job.app,
        "spec": job.spec,
        "timezone": job.timezone or "UTC",
        "commands": definition.get("commands", {}),
        "timeout": definition.get("timeout"),
        "shutdown_timeout": definition.get("shutdown_timeout"),
        "next_run_at": iso(job.next_run_at) if env.status == "active" else None,
        "last_run": _last_run(last),
        "_links": links,
    }


@router.get(ENV + "/crons")
def list_crons(environment_id: str, ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """The environment's deployed crons, by app and name (a plain array)."""
    env = ctx.environment(session, environment_id)
    jobs = crons.list_jobs(session, env)
    last = crons.last_runs(session, jobs)
    return [cron_view(ctx, env, j, last.get(j.last_activity_id or "")) for j in jobs]


@router.post(ENV + "/crons/{name}/run")
def run_cron(
    environment_id: str,
    name: str,
    ctx: ProjectCtx,
    session: DbSession,
    body: RunInput | None = None,
    application: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    """Queue a run of the cron now, under the caller's name (admin on the type)."""
    env = ctx.environment(session, environment_id, "run_cron")
    app = (body.application if body else None) or application
    job = crons.find_job(session, env, name, app)
    activity = crons.run_now(session, ctx.grants, env, job)
    return ctx.accepted(session, 200, cron_view(ctx, env, job, activity), [activity])
