"""An environment's page and actions: branch, activate, deactivate, redeploy, run a
cron, backups and restores. Buttons come from the same ``_links`` (or the same
condition) the API advertises, and every POST goes through the same policy check and
domain function as the API's route."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from homeport.domain import activities as acts
from homeport.domain import backups, crons
from homeport.domain import environments as envs
from homeport.domain.errors import DomainError, NotFound
from homeport.git import sync
from homeport.runtime.logs import log_file, tail
from homeport.store.models import Activity, Environment
from homeport.web.console.deps import ConsoleRoute, Me, Person, ProjectPage, render, see_other
from homeport.web.console.present import CronItem, activity_item, cron_item
from homeport.web.deps import DbSession, State
from homeport.web.hal import environment_view
from homeport.web.project_deps import ProjectContext
from homeport.web.routes.backups import backup_view
from homeport.web.routes.deployments import current_document
from homeport.web.state import AppState

router = APIRouter(route_class=ConsoleRoute)
ENV = "/projects/{project_id}/environments/{env_name}"
FEED_COUNT = 30


def env_url(ctx: ProjectContext, env: Environment) -> str:
    """The console page of an environment."""
    return f"/console/projects/{ctx.project.id}/environments/{quote(env.name, safe='')}"


def env_context(
    ctx: ProjectContext, session: Session, env: Environment, tab: str
) -> dict[str, Any]:
    """What the environment header needs: links only to what the person may see."""
    parent_visible = False
    if env.parent is not None:
        try:
            parent = envs.get_environment(session, ctx.project, env.parent)
            parent_visible = ctx.grants.can_env("view", parent.type)
        except NotFound:
            parent_visible = False
    return {
        "env": env,
        "env_url": env_url(ctx, env),
        "env_tab": tab,
        "parent_visible": parent_visible,
    }


def _to_activity(ctx: ProjectContext, activity: Activity) -> Response:
    # After starting work, show it: the activity page follows its log live.
    return see_other(f"/console/projects/{ctx.project.id}/activities/{activity.id}")


def deployment_summary(
    state: AppState, ctx: ProjectContext, session: Session, env: Environment
) -> dict[str, Any] | None:
    """What the environment page shows of the running deployment: apps with their
    process state, routes, and (for those who may read logs) the tail of each log."""
    document = current_document(session, env)
    if document is None:
        return None
    group = f"{ctx.project.id}/{env.machine_name}"
    processes = state.process_state(group) if state.process_state else {}
    apps = [
        {
            "name": name,
            "type": app.get("type"),
            "tree": str(app.get("tree_id", ""))[:7],
            "state": processes.get(name, {}).get("state", "unknown"),
            "restarts": processes.get(name, {}).get("restarts", 0),
            "ssh": _ssh_role(app),
        }
        for name, app in sorted(document.get("webapps", {}).items())
    ]
    logs: dict[str, str] = {}
    if ctx.grants.can_env("ssh", env.type):
        for kind in ("app", "deploy", "post-deploy"):
            path = log_file(
                state.settings.runtime_dir, ctx.project.id, env.machine_name, kind, None
            )
            logs[kind] = tail(path, 20)
    return {
        "apps": apps,
        "routes": [
            {"url": url, "type": r.get("type"), "to": r.get("to") or r.get("upstream")}
            for url, r in document.get("routes", {}).items()
        ],
        "commit": document.get("fingerprint"),
        "updated_at": document.get("updated_at"),
        "logs": logs,
    }


def _ssh_role(app: dict[str, Any]) -> str:
    """The least role with a shell on the app (its ``access.ssh``; contributor unset)."""
    access = app.get("access")
    role = access.get("ssh") if isinstance(access, dict) else None
    return str(role or "contributor")


def cron_rows(session: Session, env: Environment) -> list[CronItem]:
    """The environment's crons with their last run (one query) and next run."""
    jobs = crons.list_jobs(session, env)
    last = crons.last_runs(session, jobs)
    active = env.status == "active"
    return [cron_item(j, last.get(j.last_activity_id or ""), active) for j in jobs]


def queued_cron_run(
    session: Session, ctx: ProjectContext, env: Environment, activity_id: str | None
) -> dict[str, str] | None:
    """The cron run that ``?queued=`` names, read back from the database: only a cron
    activity of this environment is announced, so a link cannot put text on the page."""
    if not activity_id or len(activity_id) > 32:
        return None
    try:
        activity = acts.get_activity(session, ctx.project.id, activity_id)
    except NotFound:
        return None
    if activity.type != crons.CRON_TYPE or env.name not in activity.environments:
        return None
    params = activity.parameters if isinstance(activity.parameters, dict) else {}
    return {
        "id": activity.id,
        "cron": str(params.get("cron", "")),
        "app": str(params.get("application", "")),
    }


def _env_page(
    request: Request,
    person: Person,
    ctx: ProjectContext,
    session: Session,
    env: Environment,
    status: int = 200,
    branch_error: DomainError | None = None,
    branch_values: dict[str, str] | None = None,
) -> Response:
    links = environment_view(env, ctx.grants)["_links"]
    rows = acts.list_activities(
        session,
        ctx.project.id,
        acts.ActivityFilter(count=FEED_COUNT),
        environment=env.name,
    )
    children = [
        e
        for e in envs.list_environments(session, ctx.project)
        if e.parent == env.name and ctx.grants.can_env("view", e.type)
    ]
    state: AppState = request.app.state.homeport
    return render(
        request,
        "console/environments/show.html",
        person,
        status=status,
        ctx=ctx,
        links=links,
        deployment=deployment_summary(state, ctx, session, env),
        branch_types=[t for t in envs.BRANCHABLE_TYPES if ctx.grants.can_branch(env.type, t)],
        children=children,
        activities=[activity_item(a) for a in rows],
        crons=cron_rows(session, env),
        can_run_cron=env.status == "active" and ctx.grants.can_env("run_cron", env.type),
        queued=queued_cron_run(session, ctx, env, request.query_params.get("queued")),
        branch_error=branch_error,
        branch_values=branch_values or {"name": "", "title": "", "type": "development"},
        **env_context(ctx, session, env, "overview"),
    )


@router.get(ENV)
def environment_page(
    env_name: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """Status, actions the person may perform, children and recent activities."""
    return _env_page(request, person, ctx, session, ctx.environment(session, env_name))


@router.post(ENV + "/branch")
def branch(
    env_name: str,
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
    state: State,
    name: Annotated[str, Form(max_length=256)] = "",
    title: Annotated[str, Form(max_length=1024)] = "",
    type: Annotated[str, Form(max_length=32)] = "development",
    clone_parent: Annotated[bool, Form()] = False,
) -> Response:
    """Create a child environment (contributor on both types), and its git branch."""
    parent = ctx.environment(session, env_name, "branch")
    try:
        with session.begin_nested():
            child, activity = envs.branch(
                session, ctx.grants, parent, name, title or None, type, clone_parent
            )
        sync.branch_created(state.settings.git_dir, ctx.project.id, child.name, parent.name)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        values = {"name": name, "title": title, "type": type}
        return _env_page(request, person, ctx, session, parent, exc.status, exc, values)
    return _to_activity(ctx, activity)


@router.post(ENV + "/activate")
def activate(env_name: str, ctx: ProjectPage, session: DbSession) -> Response:
    """Bring an inactive environment up."""
    env = ctx.environment(session, env_name, "activate")
    return _to_activity(ctx, envs.activate(session, ctx.grants, env))


@router.get(ENV + "/deactivate")
def confirm_deactivate(
    env_name: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """Ask first: deactivating removes the environment's data."""
    env = ctx.environment(session, env_name, "deactivate")
    return render(
        request,
        "console/confirm.html",
        person,
        title=f"Deactivate {env.title}",
        message=f"Deactivate the environment “{env.name}”? Its data is removed; its code "
        "and variables stay, and it can be activated again.",
        action=f"{env_url(ctx, env)}/deactivate",
        button="Deactivate",
        cancel=env_url(ctx, env),
        danger=True,
    )


@router.post(ENV + "/deactivate")
def deactivate(env_name: str, ctx: ProjectPage, session: DbSession) -> Response:
    """Take an environment down."""
    env = ctx.environment(session, env_name, "deactivate")
    return _to_activity(ctx, envs.deactivate(session, ctx.grants, env))


@router.post(ENV + "/redeploy")
def redeploy(env_name: str, ctx: ProjectPage, session: DbSession) -> Response:
    """Redeploy an active environment."""
    env = ctx.environment(session, env_name, "redeploy")
    return _to_activity(ctx, envs.redeploy(session, ctx.grants, env))


@router.post(ENV + "/crons/{name}/run")
def run_cron(
    env_name: str,
    name: str,
    ctx: ProjectPage,
    session: DbSession,
    app: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Queue a run of a cron now, under the person's name (admin on the type); back on
    the environment page, a notice names the queued activity."""
    env = ctx.environment(session, env_name, "run_cron")
    job = crons.find_job(session, env, name, app or None)
    activity = crons.run_now(session, ctx.grants, env, job)
    return see_other(f"{env_url(ctx, env)}?queued={quote(activity.id, safe='')}#crons")


# --- backups --------------------------------------------------------------------------


@router.get(ENV + "/backups")
def backup_list(
    env_name: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """The environment's backups, with restore and delete where the person may."""
    env = ctx.environment(session, env_name)
    links = environment_view(env, ctx.grants)["_links"]
    rows = [(b, backup_view(ctx, env, b)["_links"]) for b in backups.list_backups(session, env)]
    return render(
        request,
        "console/environments/backups.html",
        person,
        ctx=ctx,
        links=links,
        backups=rows,
        **env_context(ctx, session, env, "backups"),
    )


@router.post(ENV + "/backup")
def create_backup(
    env_name: str,
    ctx: ProjectPage,
    session: DbSession,
    kind: Annotated[str, Form(max_length=8)] = "safe",
) -> Response:
    """Queue a safe (writers paused) or live backup."""
    env = ctx.environment(session, env_name, "backup")
    return _to_activity(ctx, backups.request_backup(session, ctx.grants, env, kind != "live"))


@router.get(ENV + "/backups/{backup_id}/restore")
def confirm_restore(
    env_name: str,
    backup_id: str,
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
) -> Response:
    """Ask first: restoring replaces the environment's data with the backup's."""
    env = ctx.environment(session, env_name, "restore")
    row = backups.get_backup(session, env, backup_id)
    return render(
        request,
        "console/environments/restore.html",
        person,
        ctx=ctx,
        env=env,
        env_url=env_url(ctx, env),
        backup=row,
    )


@router.post(ENV + "/backups/{backup_id}/restore")
def restore(
    env_name: str,
    backup_id: str,
    ctx: ProjectPage,
    session: DbSession,
    restore_code: Annotated[bool, Form()] = False,
) -> Response:
    """Restore the backup into its own environment."""
    env = ctx.environment(session, env_name)
    row = backups.get_backup(session, env, backup_id)
    _target, activity = backups.request_restore(
        session, ctx.grants, env, row, None, None, restore_code
    )
    return _to_activity(ctx, activity)


@router.get(ENV + "/backups/{backup_id}/delete")
def confirm_delete_backup(
    env_name: str,
    backup_id: str,
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
) -> Response:
    """Ask before deleting a backup."""
    env = ctx.environment(session, env_name, "backup")
    row = backups.get_backup(session, env, backup_id)
    return render(
        request,
        "console/confirm.html",
        person,
        title="Delete backup",
        message=f"Delete the backup {row.id} of “{env.name}” taken {row.created_at:%Y-%m-%d %H:%M} "
        "UTC? It cannot be restored afterwards.",
        action=f"{env_url(ctx, env)}/backups/{row.id}/delete",
        button="Delete backup",
        cancel=f"{env_url(ctx, env)}/backups",
        danger=True,
    )


@router.post(ENV + "/backups/{backup_id}/delete")
def delete_backup(
    env_name: str, backup_id: str, ctx: ProjectPage, session: DbSession, state: State
) -> Response:
    """Delete a backup and its archive."""
    env = ctx.environment(session, env_name, "backup")
    row = backups.get_backup(session, env, backup_id)
    backups.delete_backup(session, ctx.grants, env, row, state.blobs)
    return see_other(f"{env_url(ctx, env)}/backups?done=backup-deleted")
