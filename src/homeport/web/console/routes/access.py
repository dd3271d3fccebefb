"""Project settings → Users: roles, invitations and machine users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from homeport.domain import access, policy, projects
from homeport.domain.errors import DomainError, Forbidden, NotFound
from homeport.domain.policy import ENV_ROLES, ENV_TYPES, PROJECT_ROLES
from homeport.store.models import Account
from homeport.web.console.deps import ConsoleRoute, Me, Person, ProjectPage, render, see_other
from homeport.web.console.present import type_roles
from homeport.web.deps import DbSession
from homeport.web.project_deps import ProjectContext

router = APIRouter(route_class=ConsoleRoute)
SETTINGS = "/projects/{project_id}/settings"
USERS = SETTINGS + "/users"


@dataclass(frozen=True)
class RolesForm:
    """A project role and one role (or ``none``) per environment type."""

    role: str
    production: str
    staging: str
    development: str

    def roles(self) -> access.Roles:
        """Validated by the domain (a viewer needs at least one environment-type role)."""
        return access.validated_roles(
            self.role,
            {
                "production": self.production,
                "staging": self.staging,
                "development": self.development,
            },
        )

    @classmethod
    def of(cls, roles: access.Roles | None) -> RolesForm:
        """The form showing ``roles`` (a new user starts as a development contributor)."""
        if roles is None:
            return cls("viewer", "none", "none", "contributor")
        types = dict(roles.type_roles) if roles.project_role != "admin" else {}
        return cls(
            roles.project_role,
            types.get("production", "none"),
            types.get("staging", "none"),
            types.get("development", "none"),
        )


def roles_form(
    role: Annotated[str, Form(max_length=16)] = "viewer",
    production: Annotated[str, Form(max_length=16)] = "none",
    staging: Annotated[str, Form(max_length=16)] = "none",
    development: Annotated[str, Form(max_length=16)] = "none",
) -> RolesForm:
    """Read the roles part of a form."""
    return RolesForm(role, production, staging, development)


PostedRoles = Annotated[RolesForm, Depends(roles_form)]


@dataclass(frozen=True)
class Member:
    """One row of the Users table."""

    account: Account
    roles: access.Roles
    types: dict[str, str]
    is_owner: bool
    can_edit: bool
    can_manage_tokens: bool


def _members(session: Session, ctx: ProjectContext, person: Person) -> list[Member]:
    out = []
    manage = ctx.grants.can_project("manage_access")
    for row in projects.members(session, ctx.project):
        account = session.get(Account, row.account_id)
        roles = access.current_roles(session, ctx.project, row.account_id)
        if account is None or roles is None:
            continue
        owner = account.id == ctx.project.owner_id
        out.append(
            Member(
                account=account,
                roles=roles,
                types=type_roles(roles),
                is_owner=owner,
                # The owner's roles are protected (the domain refuses to change them).
                can_edit=manage and not owner,
                can_manage_tokens=account.kind == "machine"
                and policy.may_manage_credentials(session, person.account, account),
            )
        )
    return out


def _users_page(
    request: Request,
    person: Person,
    session: Session,
    ctx: ProjectContext,
    status: int = 200,
    invite_error: DomainError | None = None,
    machine_error: DomainError | None = None,
    invite: dict[str, str] | None = None,
    machine: dict[str, str] | None = None,
    invite_roles: RolesForm | None = None,
    machine_roles: RolesForm | None = None,
) -> Response:
    manage = ctx.grants.can_project("manage_access")
    return render(
        request,
        "console/access/users.html",
        person,
        status=status,
        ctx=ctx,
        tab="settings",
        members=_members(session, ctx, person),
        manage=manage,
        invitations=access.list_invitations(session, ctx.project) if manage else [],
        env_types=ENV_TYPES,
        env_roles=ENV_ROLES,
        project_roles=PROJECT_ROLES,
        invite_error=invite_error,
        machine_error=machine_error,
        invite=invite or {"email": ""},
        machine=machine or {"email": "", "name": ""},
        invite_roles=invite_roles or RolesForm.of(None),
        machine_roles=machine_roles or RolesForm("viewer", "admin", "none", "none"),
    )


@router.get(SETTINGS)
def settings(ctx: ProjectPage) -> Response:
    """Project settings open on Users."""
    return see_other(f"/console/projects/{ctx.project.id}/settings/users")


@router.get(USERS)
def users(request: Request, person: Me, ctx: ProjectPage, session: DbSession) -> Response:
    """Everyone's project and environment-type roles (forms for project admins)."""
    return _users_page(request, person, session, ctx)


@router.post(USERS + "/invite")
def invite(
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
    posted: PostedRoles,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Invite by email; an existing account that may claim it gets the roles at once."""
    ctx.require("manage_access")
    try:
        with session.begin_nested():
            access.invite(session, person.account, ctx.project, email, posted.roles())
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _users_page(
            request,
            person,
            session,
            ctx,
            exc.status,
            invite_error=exc,
            invite={"email": email},
            invite_roles=posted,
        )
    return see_other(f"/console/projects/{ctx.project.id}/settings/users?done=invited")


@router.post(USERS + "/machine-users")
def create_machine_user(
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
    posted: PostedRoles,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """Create a machine user with exactly these roles; its token is made from its row."""
    ctx.require("manage_access")
    try:
        with session.begin_nested():
            access.create_machine_user(
                session, person.account, ctx.project, email, name, posted.roles()
            )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _users_page(
            request,
            person,
            session,
            ctx,
            exc.status,
            machine_error=exc,
            machine={"email": email, "name": name},
            machine_roles=posted,
        )
    return see_other(f"/console/projects/{ctx.project.id}/settings/users?done=machine-user-created")


def _member(session: Session, ctx: ProjectContext, user_id: str) -> tuple[Account, access.Roles]:
    account = session.get(Account, user_id)
    roles = access.current_roles(session, ctx.project, user_id) if account else None
    if account is None or roles is None:
        raise NotFound("This user has no access to the project.")
    return account, roles


def _changeable(
    session: Session, ctx: ProjectContext, user_id: str
) -> tuple[Account, access.Roles]:
    """A member whose roles may change: the forms are not even offered for the owner
    (the domain refuses the change itself all the same)."""
    account, roles = _member(session, ctx, user_id)
    if account.id == ctx.project.owner_id:
        raise Forbidden("The project owner's role(s) cannot be changed.")
    return account, roles


@router.get(USERS + "/{user_id}/edit")
def edit_roles(
    user_id: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """The roles form for one member."""
    ctx.require("manage_access")
    account, roles = _changeable(session, ctx, user_id)
    return _edit_page(request, person, ctx, account, RolesForm.of(roles))


def _edit_page(
    request: Request,
    person: Person,
    ctx: ProjectContext,
    account: Account,
    form: RolesForm,
    status: int = 200,
    error: DomainError | None = None,
) -> Response:
    return render(
        request,
        "console/access/edit.html",
        person,
        status=status,
        ctx=ctx,
        tab="settings",
        member=account,
        form=form,
        error=error,
        env_types=ENV_TYPES,
        env_roles=ENV_ROLES,
        project_roles=PROJECT_ROLES,
    )


@router.post(USERS + "/{user_id}/edit")
def save_roles(
    user_id: str,
    request: Request,
    person: Me,
    ctx: ProjectPage,
    session: DbSession,
    posted: PostedRoles,
) -> Response:
    """Replace one member's roles (the owner's are protected by the domain)."""
    ctx.require("manage_access")
    account, _roles = _member(session, ctx, user_id)
    try:
        with session.begin_nested():
            access.set_roles(session, person.account, ctx.project, account, posted.roles())
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return _edit_page(request, person, ctx, account, posted, exc.status, exc)
    return see_other(f"/console/projects/{ctx.project.id}/settings/users?done=roles-updated")


@router.get(USERS + "/{user_id}/remove")
def confirm_remove(
    user_id: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """Ask before removing someone from the project."""
    ctx.require("manage_access")
    account, _roles = _changeable(session, ctx, user_id)
    base = f"/console/projects/{ctx.project.id}/settings/users"
    return render(
        request,
        "console/confirm.html",
        person,
        title="Remove from project",
        message=f"Remove {account.display_name} ({account.email}) from “{ctx.project.title}”? "
        "They lose every role on it.",
        action=f"{base}/{account.id}/remove",
        button="Remove access",
        cancel=base,
        danger=True,
    )


@router.post(USERS + "/{user_id}/remove")
def remove(user_id: str, person: Me, ctx: ProjectPage, session: DbSession) -> Response:
    """Remove every role of one member."""
    ctx.require("manage_access")
    account, _roles = _member(session, ctx, user_id)
    access.remove_access(session, person.account, ctx.project, account)
    return see_other(f"/console/projects/{ctx.project.id}/settings/users?done=user-removed")


@router.post(SETTINGS + "/invitations/{invitation_id}/cancel")
def cancel_invitation(invitation_id: str, ctx: ProjectPage, session: DbSession) -> Response:
    """Cancel a pending invitation."""
    ctx.require("manage_access")
    access.cancel_invitation(session, ctx.project, invitation_id)
    return see_other(f"/console/projects/{ctx.project.id}/settings/users?done=invitation-cancelled")
