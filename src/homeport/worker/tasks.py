"""Handlers of long-running activity types, keyed by activity type."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import backups
from homeport.domain import environments as envs
from homeport.domain.backup_archive import recover_interrupted
from homeport.domain.projects import get_project
from homeport.runtime.driver import RuntimeDriver
from homeport.runtime.sandbox import give_to_sandbox
from homeport.settings import Settings
from homeport.store.blobstore import BlobStoreError, open_blob_store
from homeport.store.db import Database
from homeport.store.models import Backup, Environment
from homeport.store.types import utcnow
from homeport.worker import cron_tasks, deploy_tasks, sync_tasks
from homeport.worker.backup_tasks import (
    make_backup_handler,
    make_restore_handler,
    scratch_dir,
)
from homeport.worker.context import ActivityContext, ActivitySnapshot
from homeport.worker.runner import Handler, Worker


def _environment(ctx: ActivityContext, session: Session) -> Environment:
    project = get_project(session, ctx.activity.project_id)
    return envs.get_environment(session, project, ctx.activity.environments[0])


def _data_dir(ctx: ActivityContext, env: Environment) -> Path:
    return envs.data_dir(ctx.settings.environments_dir, env)


def branch(ctx: ActivityContext) -> None:
    """Prepare the new environment's data (a copy of the parent's) and activate it."""
    params = ctx.activity.parameters
    with ctx.session() as session:
        child = _environment(ctx, session)
        parent_env = envs.get_environment(
            session, get_project(session, child.project_id), str(params["parent"])
        )
        child_dir, parent_dir = _data_dir(ctx, child), _data_dir(ctx, parent_env)
    ctx.log(f"Creating environment {child.name} from {parent_env.name}")
    if child_dir.exists():
        shutil.rmtree(child_dir)
    child_dir.parent.mkdir(parents=True, exist_ok=True)
    if params.get("clone_parent", True) and parent_dir.is_dir():
        ctx.log("Copying the parent environment's data")
        shutil.copytree(parent_dir, child_dir, symlinks=True)
        give_to_sandbox(child_dir / "mounts")
    else:
        child_dir.mkdir(parents=True, exist_ok=True)
    ctx.progress(90)
    with ctx.session() as session:
        child = _environment(ctx, session)
        child.status = "active"
    ctx.log(f"Environment {child.name} is active")


def activate(ctx: ActivityContext) -> None:
    """Bring an inactive environment up: its data (a copy of the parent's when the
    activation says so), then status active."""
    params = ctx.activity.parameters
    with ctx.session() as session:
        env = _environment(ctx, session)
        area = _data_dir(ctx, env)
        source: Path | None = None
        if params.get("clone_parent") and env.parent:
            parent = envs.get_environment(session, get_project(session, env.project_id), env.parent)
            source = _data_dir(ctx, parent)
    fresh = not area.exists() or not any(area.iterdir())
    if source is not None and fresh and source.is_dir():
        ctx.log(f"Copying the data of {env.parent}")
        if area.exists():
            area.rmdir()
        area.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, area, symlinks=True)
        give_to_sandbox(area / "mounts")
    elif params.get("clone_note"):
        ctx.log(str(params["clone_note"]))
    area.mkdir(parents=True, exist_ok=True)
    with ctx.session() as session:
        env = _environment(ctx, session)
        env.status = "active"
    ctx.log(f"Environment {env.name} is active")


def _nothing_to_deploy(ctx: ActivityContext) -> None:
    """Without a runtime in this process (API tests): record the deploy step as done."""
    with ctx.session() as session:
        env = _environment(ctx, session)
        name = env.name
        env.needs_redeploy = False
        env.last_deployment_at = utcnow()
        env.last_deployment_successful = True
    ctx.log(f"Redeploying environment {name}")
    ctx.log("  Nothing to deploy: this worker runs no application runtime.")


def deactivate(ctx: ActivityContext) -> None:
    """Take an environment down and remove its data, as Platform.sh does."""
    with ctx.session() as session:
        env = _environment(ctx, session)
        area = _data_dir(ctx, env)
    ctx.log("Removing the environment's data")
    if area.exists():
        shutil.rmtree(area)
    with ctx.session() as session:
        env = _environment(ctx, session)
        env.status = "inactive"
    ctx.log(f"Environment {env.name} is inactive")


def pause(ctx: ActivityContext) -> None:
    """Mark the environment paused (its apps are stopped first when there is a runtime)."""
    with ctx.session() as session:
        env = _environment(ctx, session)
        env.status = "paused"
        name = env.name
    ctx.log(f"Environment {name} is paused")


def resume(ctx: ActivityContext) -> None:
    """Mark a paused environment active again; the redeploy follows."""
    with ctx.session() as session:
        env = _environment(ctx, session)
        env.status = "active"
        name = env.name
    ctx.log(f"Environment {name} is resumed")


def _resume_without_runtime(ctx: ActivityContext) -> None:
    resume(ctx)
    _nothing_to_deploy(ctx)


def test_only_slow(ctx: ActivityContext) -> None:
    """TEST ONLY (``HOMEPORT_TEST_HANDLERS=1``): logs a line per step, then sleeps."""
    steps = int(ctx.activity.parameters.get("steps", 10))
    delay = float(ctx.activity.parameters.get("delay", 0.5))
    for i in range(steps):
        ctx.check_cancelled()
        ctx.log(f"step {i + 1} of {steps}")
        ctx.progress(int(100 * (i + 1) / steps))
        time.sleep(delay)


def _with_runtime(runtime: RuntimeDriver, first: Handler | None, kind: str) -> Handler:
    """``first`` (the data side of the activity), then the runtime's deploy."""

    def handler(ctx: ActivityContext) -> None:
        if first is not None:
            first(ctx)
        deploy_tasks.deploy(ctx, runtime, kind)

    return handler


def _deploying(runtime: RuntimeDriver) -> Handler:
    """The runtime's deploy of the activity's (first) environment, as after a push."""
    return lambda ctx: deploy_tasks.deploy(ctx, runtime, "push")


def _stopping(runtime: RuntimeDriver) -> Handler:
    def handler(ctx: ActivityContext) -> None:
        deploy_tasks.stop(ctx, runtime)
        deactivate(ctx)

    return handler


def _pausing(runtime: RuntimeDriver) -> Handler:
    def handler(ctx: ActivityContext) -> None:
        deploy_tasks.pause(ctx, runtime)
        pause(ctx)

    return handler


def default_handlers(
    settings: Settings, runtime: RuntimeDriver | None = None
) -> Mapping[str, Handler]:
    """The handler of each long-running activity type (the runtime's ones only when
    this process runs the runtime)."""
    blobs = open_blob_store(settings.backup_url, os.environ)
    restore = make_restore_handler(blobs)
    handlers: dict[str, Handler] = {
        "environment.backup": make_backup_handler(blobs, settings.backup_quota),
        "environment.branch": branch,
        "environment.activate": activate,
        "environment.push": _nothing_to_deploy,
        "environment.deactivate": deactivate,
        "environment.redeploy": _nothing_to_deploy,
        "environment.pause": pause,
        "environment.resume": _resume_without_runtime,
        "environment.restore": restore,
        "environment.merge": lambda ctx: sync_tasks.merge(ctx, _nothing_to_deploy),
        "environment.synchronize": lambda ctx: sync_tasks.synchronize(ctx, _nothing_to_deploy),
    }
    if runtime is not None:
        handlers.update(
            {
                "environment.branch": _with_runtime(runtime, branch, "activate"),
                "environment.activate": _with_runtime(runtime, activate, "activate"),
                "environment.push": _with_runtime(runtime, None, "push"),
                "environment.deactivate": _stopping(runtime),
                "environment.redeploy": _with_runtime(runtime, None, "redeploy"),
                "environment.pause": _pausing(runtime),
                "environment.resume": _with_runtime(runtime, resume, "redeploy"),
                "environment.restore": _with_runtime(runtime, restore, "push"),
                "environment.cron": lambda ctx: cron_tasks.run_cron(ctx, runtime),
                "environment.merge": lambda ctx: sync_tasks.merge(ctx, _deploying(runtime)),
                "environment.synchronize": lambda ctx: sync_tasks.synchronize(
                    ctx, _deploying(runtime), lambda c: deploy_tasks.stop_processes(c, runtime)
                ),
            }
        )
    if settings.test_handlers:
        handlers["test.only.slow"] = test_only_slow
    return handlers


_SETTLING = ("environment.branch", "environment.activate", "environment.deactivate")


def clean_up_failed(settings: Settings, db: Database, activity: ActivitySnapshot) -> None:
    """After a failure or crash: an environment left ``dirty`` becomes ``inactive`` (so it
    can be activated or deleted), a half-written backup's scratch files and unrecorded
    archive go, and a half-done restore is undone so the environment keeps its data."""
    if activity.type in _SETTLING and activity.environments:
        with db.session(write=True) as session:
            project = get_project(session, activity.project_id)
            env = envs.get_environment(session, project, activity.environments[0])
            if env.status == "dirty":
                env.status = "inactive"
        return
    if activity.type == "environment.backup":
        backup_id = str(activity.parameters.get("backup_name", ""))
        if not backup_id or not activity.environments:
            return
        shutil.rmtree(scratch_dir(settings.data_dir, backup_id), ignore_errors=True)
        with db.session() as session:
            if session.scalar(select(Backup.pk).where(Backup.id == backup_id)) is not None:
                return  # it was recorded: complete and verified
            project = get_project(session, activity.project_id)
            env = envs.get_environment(session, project, activity.environments[0])
            key = backups.blob_key(project.id, env, backup_id)
        # Stored but never verified and recorded: nobody may ever restore it.
        with suppress(BlobStoreError):
            open_blob_store(settings.backup_url, os.environ).delete(key)
        return
    if activity.type != "environment.restore" or not activity.environments:
        return
    with db.session() as session:
        project = get_project(session, activity.project_id)
        env = envs.get_environment(session, project, activity.environments[0])
        target = envs.data_dir(settings.environments_dir, env)
    recover_interrupted(target)


def make_worker(
    settings: Settings,
    db: Database,
    wake_event: threading.Event | None = None,
    runtime: RuntimeDriver | None = None,
    leave_runtime_types: bool = False,
) -> Worker:
    """A worker with every handler and the crash clean-up wired in. With
    ``leave_runtime_types`` it never claims what another process's runtime must run."""
    return Worker(
        db,
        settings,
        default_handlers(settings, runtime),
        wake_event,
        on_failed=lambda a: clean_up_failed(settings, db, a),
        skip_types=deploy_tasks.RUNTIME_TYPES if leave_runtime_types else frozenset(),
    )
