"""Project and environment variables. Values of sensitive variables are write-only: no
page ever contains them, not even the edit form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from homeport.domain import environments as envs
from homeport.domain import variables as vars_
from homeport.domain.errors import DomainError, Forbidden
from homeport.store.models import Environment, Variable
from homeport.web.console.deps import ConsoleRoute, Me, Person, ProjectPage, render, see_other
from homeport.web.console.routes.environments import env_context, env_url
from homeport.web.deps import DbSession, State
from homeport.web.project_deps import ProjectContext

router = APIRouter(route_class=ConsoleRoute)
PROJECT = "/projects/{project_id}/variables"
ENV = "/projects/{project_id}/environments/{env_name}/variables"


@dataclass
class Level:
    """Where variables are managed: the project, or one environment."""

    ctx: ProjectContext
    env: Environment | None

    @property
    def url(self) -> str:
        """The console page listing this level's variables."""
        if self.env is None:
            return f"/console/projects/{self.ctx.project.id}/variables"
        return f"{env_url(self.ctx, self.env)}/variables"

    @property
    def can_write(self) -> bool:
        """Project admins for the project level; environment admins for environments."""
        if self.env is None:
            return self.ctx.grants.can_project("manage_variables")
        return self.ctx.grants.can_env("manage_variables", self.env.type)

    def require_write(self) -> None:
        """403 unless the person may change variables here."""
        if not self.can_write:
            raise Forbidden("You may not change variables here.")


@dataclass
class VariableForm:
    """The form's fields; checkboxes that are not ticked are simply absent."""

    value: str
    is_json: bool
    is_sensitive: bool
    visible_build: bool
    visible_runtime: bool
    is_enabled: bool
    is_inheritable: bool


def variable_form(
    value: Annotated[str, Form(max_length=vars_.MAX_VALUE * 4)] = "",
    is_json: Annotated[bool, Form()] = False,
    is_sensitive: Annotated[bool, Form()] = False,
    visible_build: Annotated[bool, Form()] = False,
    visible_runtime: Annotated[bool, Form()] = False,
    is_enabled: Annotated[bool, Form()] = False,
    is_inheritable: Annotated[bool, Form()] = False,
) -> VariableForm:
    """Read the variable form."""
    return VariableForm(
        value, is_json, is_sensitive, visible_build, visible_runtime, is_enabled, is_inheritable
    )


Posted = Annotated[VariableForm, Depends(variable_form)]


def project_level(ctx: ProjectPage) -> Level:
    """The project level."""
    return Level(ctx, None)


def env_level(env_name: str, ctx: ProjectPage, session: DbSession) -> Level:
    """An environment the person may view (404 otherwise)."""
    return Level(ctx, ctx.environment(session, env_name))


ProjectLevel = Annotated[Level, Depends(project_level)]
EnvLevel = Annotated[Level, Depends(env_level)]


def _tab(session: Session, level: Level) -> dict[str, Any]:
    if level.env is None:
        return {"tab": "variables"}
    return env_context(level.ctx, session, level.env, "variables")


def _list(request: Request, person: Person, session: Session, level: Level) -> Response:
    ctx = level.ctx
    rows = (
        vars_.list_project(session, ctx.project)
        if level.env is None
        else vars_.list_environment(session, ctx.project, level.env)
    )
    return render(
        request,
        "console/variables/list.html",
        person,
        ctx=ctx,
        level=level,
        rows=rows,
        **_tab(session, level),
    )


def _form(
    request: Request,
    person: Person,
    session: Session,
    level: Level,
    listed: vars_.Listed | None,
    status: int = 200,
    error: DomainError | None = None,
    name: str = "",
    posted: VariableForm | None = None,
) -> Response:
    row = listed.row if listed else None
    if posted is not None:
        values = posted
    elif row is not None:
        values = VariableForm(
            # Write-only: a sensitive value is never sent back, not even here.
            "" if row.is_sensitive else (row.value or ""),
            row.is_json,
            row.is_sensitive,
            row.visible_build,
            row.visible_runtime,
            row.is_enabled,
            row.is_inheritable,
        )
    else:
        values = VariableForm("", False, False, True, True, True, True)
    if values.is_sensitive or (row is not None and row.is_sensitive):
        values.value = ""
    action = f"{level.url}/{quote(row.name, safe='')}/edit" if row is not None else level.url
    return render(
        request,
        "console/variables/form.html",
        person,
        status=status,
        ctx=level.ctx,
        level=level,
        listed=listed,
        row=row,
        values=values,
        name=name,
        action=action,
        error=error,
        **_tab(session, level),
    )


def _input(form: VariableForm, level: Level, row: Variable | None) -> vars_.VariableInput:
    sensitive_now = row is not None and row.is_sensitive
    value: str | None = form.value
    if sensitive_now and not form.value:
        value = None  # left empty: keep the stored secret
    env_only = level.env is not None
    return vars_.VariableInput(
        value=value,
        is_json=form.is_json,
        # Once sensitive, always sensitive: the form does not offer the box again.
        is_sensitive=None if sensitive_now else form.is_sensitive,
        visible_build=form.visible_build,
        visible_runtime=form.visible_runtime,
        is_enabled=form.is_enabled if env_only else None,
        is_inheritable=form.is_inheritable if env_only else None,
    )


def _create(
    request: Request,
    person: Person,
    session: Session,
    state: State,
    level: Level,
    name: str,
    form: VariableForm,
) -> Response:
    level.require_write()
    data = _input(form, level, None)
    data.name = name
    try:
        with session.begin_nested():
            vars_.create(
                session, state.secret_box, person.account, level.ctx.project, level.env, data
            )
            _redeploy(session, person, level)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _form(request, person, session, level, None, exc.status, exc, name, form)
    return see_other(f"{level.url}?done=variable-created")


def _update(
    request: Request,
    person: Person,
    session: Session,
    state: State,
    level: Level,
    name: str,
    form: VariableForm,
) -> Response:
    level.require_write()
    listed = vars_.get_listed(session, level.ctx.project, level.env, name)
    try:
        with session.begin_nested():
            vars_.update(
                session,
                state.secret_box,
                person.account,
                level.ctx.project,
                level.env,
                listed,
                _input(form, level, listed.row),
            )
            _redeploy(session, person, level)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _form(request, person, session, level, listed, exc.status, exc, name, form)
    return see_other(f"{level.url}?done=variable-updated")


def _confirm_delete(
    request: Request, person: Person, session: Session, level: Level, name: str
) -> Response:
    level.require_write()
    listed = vars_.get_listed(session, level.ctx.project, level.env, name)
    where = "the project" if level.env is None else f"the environment “{level.env.name}”"
    return render(
        request,
        "console/confirm.html",
        person,
        title="Delete variable",
        message=f"Delete the variable “{listed.row.name}” of {where}?",
        action=f"{level.url}/{quote(listed.row.name, safe='')}/delete",
        button="Delete variable",
        cancel=level.url,
        danger=True,
    )


def _delete(session: Session, person: Person, level: Level, name: str) -> Response:
    level.require_write()
    listed = vars_.get_listed(session, level.ctx.project, level.env, name)
    vars_.delete(session, person.account, level.ctx.project, level.env, listed)
    _redeploy(session, person, level)
    return see_other(f"{level.url}?done=variable-deleted")


def _redeploy(session: Session, person: Person, level: Level) -> None:
    """An environment-level change redeploys that environment (as on Platform.sh)."""
    if level.env is not None:
        envs.redeploy_for_variables(session, person.account, level.env)


def _edit_form(
    request: Request, person: Person, session: Session, level: Level, name: str
) -> Response:
    level.require_write()
    return _form(
        request,
        person,
        session,
        level,
        vars_.get_listed(session, level.ctx.project, level.env, name),
    )


# --- project level --------------------------------------------------------------------


@router.get(PROJECT)
def project_variables(
    request: Request, person: Me, session: DbSession, level: ProjectLevel
) -> Response:
    """The project's variables."""
    return _list(request, person, session, level)


@router.get(PROJECT + "/new")
def new_project_variable(
    request: Request, person: Me, session: DbSession, level: ProjectLevel
) -> Response:
    """The form for a new project variable."""
    level.require_write()
    return _form(request, person, session, level, None)


@router.post(PROJECT)
def create_project_variable(
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    level: ProjectLevel,
    form: Posted,
    name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Create a project variable."""
    return _create(request, person, session, state, level, name, form)


@router.get(PROJECT + "/{name}/edit")
def edit_project_variable(
    name: str, request: Request, person: Me, session: DbSession, level: ProjectLevel
) -> Response:
    """The edit form (a sensitive value stays empty: leave it so to keep it)."""
    return _edit_form(request, person, session, level, name)


@router.post(PROJECT + "/{name}/edit")
def update_project_variable(
    name: str,
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    level: ProjectLevel,
    form: Posted,
) -> Response:
    """Save a project variable."""
    return _update(request, person, session, state, level, name, form)


@router.get(PROJECT + "/{name}/delete")
def confirm_delete_project_variable(
    name: str, request: Request, person: Me, session: DbSession, level: ProjectLevel
) -> Response:
    """Ask before deleting."""
    return _confirm_delete(request, person, session, level, name)


@router.post(PROJECT + "/{name}/delete")
def delete_project_variable(
    name: str, person: Me, session: DbSession, level: ProjectLevel
) -> Response:
    """Delete a project variable."""
    return _delete(session, person, level, name)


# --- environment level ----------------------------------------------------------------


@router.get(ENV)
def env_variables(request: Request, person: Me, session: DbSession, level: EnvLevel) -> Response:
    """The environment's own variables and those it inherits (marked)."""
    return _list(request, person, session, level)


@router.get(ENV + "/new")
def new_env_variable(request: Request, person: Me, session: DbSession, level: EnvLevel) -> Response:
    """The form for a new environment variable."""
    level.require_write()
    return _form(request, person, session, level, None)


@router.post(ENV)
def create_env_variable(
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    level: EnvLevel,
    form: Posted,
    name: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Create an environment variable."""
    return _create(request, person, session, state, level, name, form)


@router.get(ENV + "/{name}/edit")
def edit_env_variable(
    name: str, request: Request, person: Me, session: DbSession, level: EnvLevel
) -> Response:
    """The edit form; saving an inherited variable creates this environment's override."""
    return _edit_form(request, person, session, level, name)


@router.post(ENV + "/{name}/edit")
def update_env_variable(
    name: str,
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    level: EnvLevel,
    form: Posted,
) -> Response:
    """Save an environment variable."""
    return _update(request, person, session, state, level, name, form)


@router.get(ENV + "/{name}/delete")
def confirm_delete_env_variable(
    name: str, request: Request, person: Me, session: DbSession, level: EnvLevel
) -> Response:
    """Ask before deleting."""
    return _confirm_delete(request, person, session, level, name)


@router.post(ENV + "/{name}/delete")
def delete_env_variable(name: str, person: Me, session: DbSession, level: EnvLevel) -> Response:
    """Delete an environment's own variable."""
    return _delete(session, person, level, name)
