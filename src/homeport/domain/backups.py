"""Backups of environments: requests, listing, retention, deletion, restore requests.

The heavy lifting (archiving, verifying, restoring) runs in the worker; see
``homeport.worker.backup_tasks``. This module decides what may happen and records it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import activities
from homeport.domain import environments as envs
from homeport.domain.activities import Phrase, env_markup, strong
from homeport.domain.errors import Conflict, Forbidden, Invalid, NotFound
from homeport.domain.ids import short_id
from homeport.domain.policy import ProjectGrants
from homeport.store.blobstore import BlobStore, BlobStoreError
from homeport.store.models import Activity, Backup, Environment, Project, Variable


def blob_key(project_id: str, env: Environment, backup_id: str) -> str:
    """Where a backup's archive lives in the blob store."""
    return f"projects/{project_id}/{env.machine_name}/{backup_id}.tar.zst"


def project_prefix(project_id: str) -> str:
    """The blob prefix of every backup of a project."""
    return f"projects/{project_id}/"


def request_backup(
    session: Session, grants: ProjectGrants, env: Environment, safe: bool
) -> Activity:
    """Queue an ``environment.backup``; its ``payload.backup_name`` is the backup id."""
    if not grants.can_env("backup", env.type):
        raise Forbidden("You may not back up this environment.")
    if env.status != "active":
        raise Conflict("Only an active environment can be backed up.")
    backup_id = short_id(26)
    actor = grants.account
    kind = "safe" if safe else "live"
    return activities.record(
        session,
        project_id=env.project_id,
        type="environment.backup",
        actor=actor,
        phrase=Phrase()
        .add(activities.user_markup(actor))
        .add(f" created a {kind} backup of ")
        .add(env_markup(env.name, env.title)),
        environments=[env.name],
        payload={
            "backup_name": backup_id,
            "environment": {"id": env.name, "title": env.title},
            "production": env.type == "production",
        },
        parameters={"environment": env.name, "backup_name": backup_id, "safe": safe},
        pending=True,
        queue_key=envs.queue_key(env.project_id, env.name),
    )


def list_backups(session: Session, env: Environment) -> Sequence[Backup]:
    """The environment's backups, newest first."""
    query = select(Backup).where(Backup.environment_pk == env.pk)
    return session.scalars(query.order_by(Backup.created_at.desc(), Backup.pk.desc())).all()


def get_backup(session: Session, env: Environment, backup_id: str) -> Backup:
    """One backup of the environment; raises NotFound."""
    row = session.scalar(
        select(Backup).where(Backup.environment_pk == env.pk, Backup.id == backup_id)
    )
    if row is None:
        raise NotFound("Backup not found.")
    return row


def _forget_blob(blobs: BlobStore, key: str) -> None:
    with suppress(BlobStoreError):  # already gone; the row is what users see
        blobs.delete(key)


def delete_backup(
    session: Session, grants: ProjectGrants, env: Environment, backup: Backup, blobs: BlobStore
) -> Activity:
    """Delete a backup and its archive (``environment.backup.delete``)."""
    if not grants.can_env("backup", env.type):
        raise Forbidden("You may not delete backups of this environment.")
    actor = grants.account
    activity = activities.record(
        session,
        project_id=env.project_id,
        type="environment.backup.delete",
        actor=actor,
        phrase=Phrase()
        .add(activities.user_markup(actor))
        .add(" deleted backup ")
        .add(strong(backup.id))
        .add(" of ")
        .add(env_markup(env.name, env.title)),
        environments=[env.name],
        payload={"backup_name": backup.id},
    )
    backup.status = "DELETING"
    session.flush()
    _forget_blob(blobs, backup.blob_key)
    session.delete(backup)
    return activity


def enforce_quota(session: Session, env: Environment, quota: int, blobs: BlobStore) -> list[str]:
    """Delete the oldest manual backups beyond ``quota``; returns the deleted ids."""
    manual = [b for b in list_backups(session, env) if not b.automated]
    removed = []
    for old in manual[quota:]:
        _forget_blob(blobs, old.blob_key)
        removed.append(old.id)
        session.delete(old)
    return removed


def forget_archives(keys: Sequence[str], blobs: BlobStore) -> None:
    """Delete archives whose rows are gone (an environment was deleted)."""
    for key in keys:
        _forget_blob(blobs, key)


def delete_project_backups(project_id: str, blobs: BlobStore) -> int:
    """Remove every archive under a deleted project's prefix."""
    keys = blobs.list_keys(project_prefix(project_id))
    for key in keys:
        _forget_blob(blobs, key)
    return len(keys)


def variables_snapshot(
    session: Session, project: Project, env: Environment
) -> list[dict[str, Any]]:
    """The environment's and project's variables as stored (sensitive ones encrypted)."""
    out = []
    scopes = ("project", f"env:{env.pk}")
    query = select(Variable).where(Variable.project_id == project.id, Variable.scope.in_(scopes))
    for row in session.scalars(query.order_by(Variable.scope, Variable.name)):
        out.append(
            {
                "level": "project" if row.scope == "project" else "environment",
                "name": row.name,
                "value": row.value,
                "value_encrypted": row.value_encrypted,
                "is_json": row.is_json,
                "is_sensitive": row.is_sensitive,
                "visible_build": row.visible_build,
                "visible_runtime": row.visible_runtime,
                "is_enabled": row.is_enabled,
                "is_inheritable": row.is_inheritable,
                "application_scope": list(row.application_scope),
            }
        )
    return out


def request_restore(
    session: Session,
    grants: ProjectGrants,
    source: Environment,
    backup: Backup,
    environment_name: str | None,
    branch_from: str | None,
    restore_code: bool,
) -> tuple[Environment, Activity]:
    """Queue an ``environment.restore`` into the same or another environment.

    With ``branch_from``, the target is created first as a child of that environment.
    """
    if not backup.restorable or backup.status != "CREATED":
        raise Conflict("This backup is not restorable.")
    if not grants.can_env("backup", source.type):
        raise Forbidden("You may not restore backups of this environment.")
    project = session.get(Project, source.project_id)
    assert project is not None
    name = environment_name or source.name
    target: Environment | None
    try:
        target = envs.get_environment(session, project, name)
    except NotFound:
        target = None
    if branch_from is not None:
        if target is not None:
            raise Conflict(
                f"The environment {name} already exists; restore into it without branch_from."
            )
        parent = envs.get_environment(session, project, branch_from)
        if not grants.can_env("view", parent.type):
            raise NotFound("Environment not found.")
        if not grants.can_restore(source.type, "development"):
            raise Forbidden("You may not restore into a new development environment.")
        target, _ = envs.branch(session, grants, parent, name, None, "development", False)
    elif target is None or not grants.can_env("view", target.type):
        raise Invalid.field(
            "environment_name", f"No environment named {name!r}; use branch_from to create it."
        )
    if not grants.can_restore(source.type, target.type):
        raise Forbidden("You may not restore into this environment.")
    if target.status not in ("active", "dirty"):
        raise Conflict("Only an active environment can be restored into.")
    leaving = activities.queued_of_types(
        session, envs.queue_key(project.id, target.name), ("environment.deactivate",)
    )
    if leaving is not None:
        raise Conflict(
            f"{target.name} is being deactivated ({leaving.id}); "
            "restore after activating it again, or cancel the deactivation first."
        )
    actor = grants.account
    activity = activities.record(
        session,
        project_id=project.id,
        type="environment.restore",
        actor=actor,
        phrase=Phrase()
        .add(activities.user_markup(actor))
        .add(" restored backup ")
        .add(strong(backup.id))
        .add(" of ")
        .add(env_markup(source.name, source.title))
        .add(" to ")
        .add(env_markup(target.name, target.title)),
        environments=[target.name],
        payload={
            "backup_name": backup.id,
            "source": source.name,
            "target": target.name,
            "production": target.type == "production",
        },
        parameters={
            "environment": target.name,
            "backup_name": backup.id,
            "restore_code": restore_code,
        },
        pending=True,
        queue_key=envs.queue_key(project.id, target.name),
    )
    return target, activity


@contextmanager
def writers_paused(area: Path) -> Iterator[None]:
    """Hold the environment's writer lock exclusively: a safe backup's consistency point.

    App processes and crons (from the runtime) take this lock shared while they write,
    and a ``writers-paused`` marker tells them why they wait.
    """
    area.mkdir(parents=True, exist_ok=True)
    marker = area / "writers-paused"
    fd = os.open(area / "writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        marker.write_text("backup\n")
        yield
    finally:
        marker.unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
