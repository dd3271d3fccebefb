"""Environments: list, get, edit, delete, and the ``#`` actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field, StrictBool
from sqlalchemy import select

from homeport.domain import backups, env_sync
from homeport.domain import environments as envs
from homeport.git import sync
from homeport.store.models import Deployment, Environment
from homeport.web.deps import DbSession, State
from homeport.web.hal import ListRights, environment_view, ssh_access, ssh_endpoint
from homeport.web.project_deps import ProjectContext, ProjectCtx
from homeport.web.schemas import Strict

router = APIRouter(tags=["Environment"])
ENV = "/projects/{project_id}/environments/{environment_id}"


class BranchInput(Strict):
    """``#branch``: the new environment's name, title, type and whether to copy data."""

    name: str = Field(max_length=256)
    title: str | None = Field(default=None, max_length=256)
    type: str = Field(default="development", max_length=32)
    clone_parent: bool = True


class EnvironmentPatch(Strict):
    """``#edit``: title, type, parent."""

    title: str | None = Field(default=None, max_length=256)
    type: str | None = Field(default=None, max_length=32)
    parent: str | None = Field(default=None, max_length=64)


def deployed_documents(
    session: DbSession, project_id: str, environment_pk: int | None = None
) -> dict[int, dict[str, Any]]:
    """Environment pk → the document of its current deployment (one query), for every
    environment of the project or only ``environment_pk``'s."""
    query = select(Deployment.environment_pk, Deployment.document).where(
        Deployment.project_id == project_id
    )
    if environment_pk is not None:
        query = query.where(Deployment.environment_pk == environment_pk)
    rows = session.execute(query).all()
    return {pk: dict(document or {}) for pk, document in rows}


def deployed_view(
    ctx: ProjectContext,
    env: Environment,
    document: dict[str, Any] | None,
    parent: Environment | None = None,
    rights: ListRights | None = None,
) -> dict[str, Any]:
    """An environment with what its current deployment adds (routes and SSH links),
    and ``#merge``/``#synchronize`` when its ``parent`` allows them."""
    document = document or {}
    return environment_view(
        env,
        ctx.grants,
        dict(document.get("routes") or {}),
        apps=ssh_access(document),
        ssh=ssh_endpoint(ctx.base_url, ctx.ssh_port),
        parent=parent,
        rights=rights,
    )


@router.get("/projects/{project_id}/environments")
def list_environments(ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """The environments the caller may view (a plain array)."""
    documents = deployed_documents(session, ctx.project.id)
    rows = envs.list_environments(session, ctx.project)
    by_name = {e.name: e for e in rows}
    rights = ListRights(ctx.grants)  # one policy answer per question, not per row
    return [
        deployed_view(ctx, e, documents.get(e.pk), by_name.get(e.parent or ""), rights)
        for e in rows
        if rights.env("view", e.type)
    ]


@router.get(ENV)
def get_environment(environment_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """One environment."""
    env = ctx.environment(session, environment_id)
    document = deployed_documents(session, ctx.project.id, env.pk).get(env.pk)
    return deployed_view(ctx, env, document, env_sync.parent_of(session, env))


@router.patch(ENV)
def patch_environment(
    environment_id: str,
    body: EnvironmentPatch,
    request: Request,
    ctx: ProjectCtx,
    session: DbSession,
) -> dict[str, Any]:
    """Change the title, type or parent."""
    env = ctx.environment(session, environment_id, "edit")
    activity = envs.edit(
        session,
        ctx.grants,
        env,
        title=body.title,
        env_type=body.type,
        parent=body.parent,
        parent_given="parent" in body.model_fields_set,
    )
    return ctx.accepted(
        session, 200, environment_view(env, ctx.grants), [activity] if activity else []
    )


@router.delete(ENV)
def delete_environment(
    environment_id: str, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Delete an inactive environment."""
    env = ctx.environment(session, environment_id, "delete")
    archives = [b.blob_key for b in backups.list_backups(session, env)]
    activity = envs.delete(session, ctx.grants, env, state.settings.environments_dir)
    # The rows went with the environment; the archives go once the deletion stood.
    backups.forget_archives(archives, state.blobs)
    sync.branch_deleted(state.settings.git_dir, ctx.project.id, env.name)
    return ctx.accepted(session, 200, None, [activity])


@router.post(ENV + "/branch", status_code=201)
def branch_environment(
    environment_id: str, body: BranchInput, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Create a child environment, and its git branch at the parent's head."""
    parent = ctx.environment(session, environment_id, "branch")
    child, activity = envs.branch(
        session, ctx.grants, parent, body.name, body.title, body.type, body.clone_parent
    )
    sync.branch_created(state.settings.git_dir, ctx.project.id, child.name, parent.name)
    return ctx.accepted(session, 201, environment_view(child, ctx.grants), [activity])


@router.post(ENV + "/activate")
def activate_environment(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """``#activate``: bring an inactive environment up."""
    env = ctx.environment(session, environment_id, "activate")
    activity = envs.activate(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


@router.post(ENV + "/deactivate")
def deactivate_environment(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """``#deactivate``: take an environment down (its data is removed)."""
    env = ctx.environment(session, environment_id, "deactivate")
    activity = envs.deactivate(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


@router.post(ENV + "/redeploy")
def redeploy_environment(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """``#redeploy``: redeploy an active environment."""
    env = ctx.environment(session, environment_id, "redeploy")
    activity = envs.redeploy(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


@router.post(ENV + "/pause")
def pause_environment(environment_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """``#pause``: stop a preview environment's apps and crons, keeping its data."""
    env = ctx.environment(session, environment_id, "pause")
    activity = envs.pause(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


@router.post(ENV + "/resume")
def resume_environment(environment_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """``#resume``: make a paused environment active again and redeploy it."""
    env = ctx.environment(session, environment_id, "resume")
    activity = envs.resume(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


class DeployInput(Strict):
    """``#deploy``: Homeport deploys at once (no staged changes), so this redeploys."""

    strategy: str = Field(default="stopstart", pattern="^(stopstart|rolling)$")


@router.post(ENV + "/deploy")
def deploy_environment(
    environment_id: str, body: DeployInput, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """``#deploy``: with automatic deployments there is nothing staged; it redeploys."""
    env = ctx.environment(session, environment_id, "redeploy")
    activity = envs.redeploy(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


class ResourcesInit(Strict):
    """How resources are set on the parent; Homeport has no per-environment resources."""

    init: str | None = Field(default=None, pattern="^(child|default|manual|minimum)$")


class MergeInput(Strict):
    """``#merge``: the body is optional (clients send none); ``resources`` is accepted."""

    resources: ResourcesInit | None = None


@router.post(ENV + "/merge")
def merge_environment(
    environment_id: str,
    ctx: ProjectCtx,
    session: DbSession,
    body: MergeInput | None = None,
) -> dict[str, Any]:
    """``#merge``: merge the environment's code into its parent and deploy the parent
    (admin on both environment types)."""
    env = ctx.environment(session, environment_id, "merge")
    activity = env_sync.merge(session, ctx.grants, env)
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])


class SynchronizeInput(Strict):
    """``#synchronize``: what to bring from the parent. The spec lists all four as
    required; real clients send only the two they set, so each defaults to false."""

    synchronize_code: StrictBool = False
    synchronize_data: StrictBool = False
    rebase: StrictBool = False
    synchronize_resources: StrictBool = False


@router.post(ENV + "/synchronize")
def synchronize_environment(
    environment_id: str, body: SynchronizeInput, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """``#synchronize``: the parent's code and/or data into the environment, then a
    redeploy (admin on both environment types)."""
    env = ctx.environment(session, environment_id, "synchronize")
    activity = env_sync.synchronize(
        session,
        ctx.grants,
        env,
        code=body.synchronize_code,
        data=body.synchronize_data,
        rebase=body.rebase,
    )
    return ctx.accepted(session, 200, environment_view(env, ctx.grants), [activity])
