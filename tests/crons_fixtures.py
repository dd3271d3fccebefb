"""Cron rows for tests that need crons without deploying an app (the rows a deploy
would write: `crons.sync` with the deployed configuration's jobs)."""

from __future__ import annotations

from homeport.domain import crons
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.store.db import Database


def job(
    name: str, spec: str = "0 5 * * *", app: str = "app", tz: str | None = None
) -> crons.JobSpec:
    """One cron as a deployed configuration would define it."""
    definition = {
        "spec": spec,
        "commands": {"start": f"echo {name}"},
        "shutdown_timeout": 10,
        "timeout": 86400,
    }
    return crons.JobSpec(app, name, spec, tz, definition)


def insert_cron_rows(db: Database, project_id: str, env_name: str, *jobs: crons.JobSpec) -> None:
    """Write the environment's cron rows as a deploy of ``jobs`` would."""
    with db.session(write=True) as session:
        env = envs.get_environment(session, get_project(session, project_id), env_name)
        crons.sync(session, env, list(jobs))
