"""Variables: ``/projects/{id}/variables`` and ``.../environments/{env}/variables``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from pydantic import Field

from homeport.domain import environments as envs
from homeport.domain import variables as vars_
from homeport.domain.errors import Forbidden
from homeport.store.models import Activity, Environment
from homeport.web.deps import DbSession, State
from homeport.web.hal import env_path, link, project_path
from homeport.web.project_deps import ProjectContext, ProjectCtx
from homeport.web.schemas import Strict, iso

router = APIRouter(tags=["Variables"])
PROJECT = "/projects/{project_id}/variables"
ENV = "/projects/{project_id}/environments/{environment_id}/variables"


class VariableFields(Strict):
    """Fields shared by create and patch (all optional here)."""

    value: str | None = Field(default=None, max_length=vars_.MAX_VALUE)
    is_json: bool | None = None
    is_sensitive: bool | None = None
    visible_build: bool | None = None
    visible_runtime: bool | None = None
    is_enabled: bool | None = None
    is_inheritable: bool | None = None
    application_scope: list[str] | None = Field(default=None, max_length=64)
    attributes: dict[str, str] | None = None

    def to_input(self, name: str | None) -> vars_.VariableInput:
        """The domain input."""
        return vars_.VariableInput(name=name, **self.model_dump(exclude={"name"}))


class VariableCreate(VariableFields):
    """A new variable: a name and a value."""

    name: str = Field(max_length=vars_.MAX_NAME + 1)


class VariablePatch(VariableFields):
    """A patch; the name may be repeated but not changed."""

    name: str | None = Field(default=None, max_length=vars_.MAX_NAME + 1)


def _view(
    ctx: ProjectContext, listed: vars_.Listed, env: Environment | None, can_write: bool
) -> dict[str, Any]:
    row = listed.row
    base = (
        f"{project_path(ctx.project.id)}/variables"
        if env is None
        else f"{env_path(ctx.project.id, env.name)}/variables"
    )
    self_path = f"{base}/{quote(row.name, safe='')}"
    links: dict[str, Any] = {"self": link(self_path)}
    if can_write:
        links["#edit"] = link(self_path, "PATCH")
        if not listed.inherited:
            links["#delete"] = link(self_path, "DELETE")
    out: dict[str, Any] = {
        "id": row.name,
        "name": row.name,
        "attributes": dict(row.attributes or {}),
        "is_json": row.is_json,
        "is_sensitive": row.is_sensitive,
        "visible_build": row.visible_build,
        "visible_runtime": row.visible_runtime,
        "application_scope": list(row.application_scope or []),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "_links": links,
    }
    if not row.is_sensitive:
        # Sensitive values are never returned: the key is absent, not empty.
        out["value"] = row.value
    if env is not None:
        out |= {
            "project": ctx.project.id,
            "environment": env.name,
            "inherited": listed.inherited,
            "is_enabled": row.is_enabled,
            "is_inheritable": row.is_inheritable,
        }
    return out


def _project_write(ctx: ProjectContext) -> None:
    if not ctx.grants.can_project("manage_variables"):
        raise Forbidden("Only project admins may change project variables.")


@router.get(PROJECT)
def list_project_variables(ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """Project-level variables (a plain array)."""
    write = ctx.grants.can_project("manage_variables")
    return [_view(ctx, v, None, write) for v in vars_.list_project(session, ctx.project)]


@router.post(PROJECT, status_code=201)
def create_project_variable(
    body: VariableCreate, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Create a project variable (409 when it exists)."""
    _project_write(ctx)
    row, activity = vars_.create(
        session, state.secret_box, ctx.grants.account, ctx.project, None, body.to_input(body.name)
    )
    view = _view(ctx, vars_.Listed(row, False, None), None, True)
    return ctx.accepted(session, 201, view, [activity])


@router.get(PROJECT + "/{name}")
def get_project_variable(name: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """One project variable."""
    listed = vars_.get_listed(session, ctx.project, None, name)
    return _view(ctx, listed, None, ctx.grants.can_project("manage_variables"))


@router.patch(PROJECT + "/{name}")
def patch_project_variable(
    name: str, body: VariablePatch, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Change a project variable."""
    _project_write(ctx)
    listed = vars_.get_listed(session, ctx.project, None, name)
    row, activity = vars_.update(
        session,
        state.secret_box,
        ctx.grants.account,
        ctx.project,
        None,
        listed,
        body.to_input(body.name),
    )
    view = _view(ctx, vars_.Listed(row, False, None), None, True)
    return ctx.accepted(session, 200, view, [activity])


@router.delete(PROJECT + "/{name}")
def delete_project_variable(name: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """Delete a project variable."""
    _project_write(ctx)
    listed = vars_.get_listed(session, ctx.project, None, name)
    activity = vars_.delete(session, ctx.grants.account, ctx.project, None, listed)
    return ctx.accepted(session, 200, None, [activity])


@router.get(ENV)
def list_environment_variables(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> list[dict[str, Any]]:
    """The environment's variables, inherited ones marked ``inherited: true``."""
    env = ctx.environment(session, environment_id)
    write = ctx.grants.can_env("manage_variables", env.type)
    return [_view(ctx, v, env, write) for v in vars_.list_environment(session, ctx.project, env)]


def _with_redeploy(
    session: DbSession, ctx: ProjectContext, env: Environment, activity: Activity
) -> list[Activity]:
    """The variable's activity, and the redeploy it causes on an active environment."""
    redeploy = envs.redeploy_for_variables(session, ctx.grants.account, env)
    return [activity] if redeploy is None else [activity, redeploy]


@router.post(ENV, status_code=201)
def create_environment_variable(
    environment_id: str, body: VariableCreate, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Create an environment variable (409 when the environment defines it already)."""
    env = ctx.environment(session, environment_id, "manage_variables")
    row, activity = vars_.create(
        session, state.secret_box, ctx.grants.account, ctx.project, env, body.to_input(body.name)
    )
    view = _view(ctx, vars_.Listed(row, False, env.name), env, True)
    return ctx.accepted(session, 201, view, _with_redeploy(session, ctx, env, activity))


@router.get(ENV + "/{name}")
def get_environment_variable(
    environment_id: str, name: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """One environment variable (its own, or the inherited one)."""
    env = ctx.environment(session, environment_id)
    listed = vars_.get_listed(session, ctx.project, env, name)
    return _view(ctx, listed, env, ctx.grants.can_env("manage_variables", env.type))


@router.patch(ENV + "/{name}")
def patch_environment_variable(
    environment_id: str,
    name: str,
    body: VariablePatch,
    ctx: ProjectCtx,
    session: DbSession,
    state: State,
) -> dict[str, Any]:
    """Change an environment variable (an inherited one gets an override here)."""
    env = ctx.environment(session, environment_id, "manage_variables")
    listed = vars_.get_listed(session, ctx.project, env, name)
    row, activity = vars_.update(
        session,
        state.secret_box,
        ctx.grants.account,
        ctx.project,
        env,
        listed,
        body.to_input(body.name),
    )
    view = _view(ctx, vars_.Listed(row, False, env.name), env, True)
    return ctx.accepted(session, 200, view, _with_redeploy(session, ctx, env, activity))


@router.delete(ENV + "/{name}")
def delete_environment_variable(
    environment_id: str, name: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Delete an environment's own variable."""
    env = ctx.environment(session, environment_id, "manage_variables")
    listed = vars_.get_listed(session, ctx.project, env, name)
    activity = vars_.delete(session, ctx.grants.account, ctx.project, env, listed)
    return ctx.accepted(session, 200, None, _with_redeploy(session, ctx, env, activity))
