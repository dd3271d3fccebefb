"""Backups: ``#backup``, the backup list, one backup, delete and restore."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictBool

from homeport.domain import backups
from homeport.store.models import Backup, Environment
from homeport.web.deps import DbSession, State
from homeport.web.hal import env_path, environment_view, link
from homeport.web.project_deps import ProjectContext, ProjectCtx
from homeport.web.schemas import Strict, iso

router = APIRouter(tags=["Environment Backups"])
ENV = "/projects/{project_id}/environments/{environment_id}"


class BackupInput(Strict):
    """``#backup``: a safe (default) or live backup.

    The description requires ``safe``; Homeport defaults it (and takes no body at all),
    because the PHP clients' ``backup()`` posts none (docs/design.md, "Differences").
    """

    safe: StrictBool = True


class RestoreInput(Strict):
    """``#restore``: into the same environment, another one, or a new branch."""

    environment_name: str | None = Field(default=None, max_length=64)
    branch_from: str | None = Field(default=None, max_length=64)
    restore_code: StrictBool = True
    restore_resources: StrictBool | None = None


def backup_view(ctx: ProjectContext, env: Environment, row: Backup) -> dict[str, Any]:
    """A backup as Platform.sh shows it."""
    path = f"{env_path(ctx.project.id, env.name)}/backups/{row.id}"
    links: dict[str, Any] = {"self": link(path)}
    if row.restorable and ctx.grants.can_restore(env.type, env.type):
        links["#restore"] = link(f"{path}/restore", "POST")
    if ctx.grants.can_env("backup", env.type):
        links["#delete"] = link(path, "DELETE")
    return {
        "id": row.id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "attributes": {},
        "status": row.status,
        "expires_at": iso(row.expires_at),
        "index": row.index,
        # A string, never null (the description's type): "" when no commit was taken.
        "commit_id": row.commit_id or "",
        "environment": env.name,
        "safe": row.safe,
        "size_of_volumes": row.size_of_volumes,
        "size_used": row.size_used,
        "deployment": None,
        "restorable": row.restorable,
        "automated": row.automated,
        "_links": links,
    }


@router.post(ENV + "/backup")
def create_backup(
    environment_id: str, ctx: ProjectCtx, session: DbSession, body: BackupInput | None = None
) -> dict[str, Any]:
    """Queue a backup; the activity's ``payload.backup_name`` is the new backup's id."""
    env = ctx.environment(session, environment_id, "backup")
    activity = backups.request_backup(session, ctx.grants, env, (body or BackupInput()).safe)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


@router.get(ENV + "/backups")
def list_backups(environment_id: str, ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """The environment's backups, newest first (a plain array)."""
    env = ctx.environment(session, environment_id)
    return [backup_view(ctx, env, b) for b in backups.list_backups(session, env)]


@router.get(ENV + "/backups/{backup_id}")
def get_backup(
    environment_id: str, backup_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """One backup."""
    env = ctx.environment(session, environment_id)
    return backup_view(ctx, env, backups.get_backup(session, env, backup_id))


@router.delete(ENV + "/backups/{backup_id}")
def delete_backup(
    environment_id: str, backup_id: str, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Delete a backup and its archive."""
    env = ctx.environment(session, environment_id, "backup")
    row = backups.get_backup(session, env, backup_id)
    activity = backups.delete_backup(session, ctx.grants, env, row, state.blobs)
    return ctx.accepted(session, 200, None, [activity])


@router.post(ENV + "/backups/{backup_id}/restore")
def restore_backup(
    environment_id: str,
    backup_id: str,
    ctx: ProjectCtx,
    session: DbSession,
    body: RestoreInput | None = None,
) -> dict[str, Any]:
    """Restore into this environment, ``environment_name``, or a new branch."""
    body = body or RestoreInput()
    source = ctx.environment(session, environment_id)
    row = backups.get_backup(session, source, backup_id)
    target, activity = backups.request_restore(
        session,
        ctx.grants,
        source,
        row,
        body.environment_name,
        body.branch_from,
        body.restore_code,
    )
    return ctx.accepted(session, 200, environment_view(target, ctx.grants), [activity])
