"""The runtime's rows: what is deployed where, read and written in the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from homeport.domain import crons
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.runtime.appconfig import AppConfig, ProjectConfig
from homeport.runtime.build import BuildResult
from homeport.runtime.document import deployment_document
from homeport.runtime.router import RouteEntry
from homeport.runtime.router_table import route_entries
from homeport.store.db import Database
from homeport.store.models import Deployment, Environment
from homeport.store.types import utcnow


def active_deployments(db: Database) -> list[tuple[str, str]]:
    """(project id, environment name) of every deployment of an active environment."""
    with db.session() as session:
        rows = session.execute(
            select(Deployment.project_id, Environment.name)
            .join(Environment, Environment.pk == Deployment.environment_pk)
            .where(Environment.status == "active")
        ).all()
    return [(project_id, name) for project_id, name in rows]


def cron_jobs(config: ProjectConfig) -> list[crons.JobSpec]:
    """Every app's crons, as the scheduler keeps them."""
    return [
        crons.JobSpec(app.name, job.name, job.spec, app.timezone, app.raw["crons"][job.name])
        for app in config.apps
        for job in app.crons.values()
    ]


def record(
    db: Database,
    project_id: str,
    env_name: str,
    commit: str,
    config: ProjectConfig,
    apps: list[tuple[AppConfig, BuildResult]],
    routes: dict[str, Any],
    processes: dict[str, Any],
    success: bool,
    talk: bool,
) -> None:
    """Write the environment's current deployment; ``talk`` (a real deploy, not the
    revival at start) also stamps the environment's last deployment."""
    with db.session(write=True) as session:
        project = get_project(session, project_id)
        env = envs.get_environment(session, project, env_name)
        document = deployment_document(project, env, commit, config, apps, routes)
        row = session.scalar(select(Deployment).where(Deployment.environment_pk == env.pk))
        if row is None:
            row = Deployment(environment_pk=env.pk, project_id=project_id)
            session.add(row)
        row.commit = commit
        row.document = document
        row.processes = processes
        row.updated_at = utcnow()
        if success:
            crons.sync(session, env, cron_jobs(config))
        if talk:
            env.last_deployment_at = utcnow()
            env.last_deployment_successful = success
            env.needs_redeploy = False


def forget(db: Database, project_id: str, env_name: str) -> str:
    """Delete the environment's deployment; returns its machine name."""
    with db.session(write=True) as session:
        project = get_project(session, project_id)
        env = envs.get_environment(session, project, env_name)
        row = session.scalar(select(Deployment).where(Deployment.environment_pk == env.pk))
        if row is not None:
            session.delete(row)
        crons.clear(session, env)
        return env.machine_name


def builds_in_use(db: Database) -> set[str]:
    """The build keys some deployment runs."""
    in_use: set[str] = set()
    with db.session() as session:
        for processes in session.scalars(select(Deployment.processes)):
            in_use.update((processes or {}).get("builds", []))
    return in_use


def router_entries(db: Database) -> list[RouteEntry]:
    """The router's table: every active environment's routes."""
    entries: list[RouteEntry] = []
    with db.session() as session:
        rows = session.execute(
            select(Deployment, Environment.name)
            .join(Environment, Environment.pk == Deployment.environment_pk)
            .where(Environment.status == "active")
        ).all()
        for row, name in rows:
            label = f"{name} (project {row.project_id})"
            entries.extend(route_entries(row.document.get("routes", {}), row.processes, label))
    return entries
