"""Access: centralized user-access, the legacy access and environment-type endpoints,
invitations, machine users and ``/ref/users``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy import select
from starlette.responses import Response

from homeport.domain import access, projects
from homeport.domain import environments as envs
from homeport.domain.errors import Invalid, NotFound
from homeport.domain.policy import ENV_TYPES, may_view_account
from homeport.store.models import Account, Invitation, ProjectAccess
from homeport.web.deps import CurrentActor, DbSession, State
from homeport.web.hal import link, project_path
from homeport.web.project_deps import ProjectContext, ProjectCtx
from homeport.web.schemas import PageSize, Strict, iso
from homeport.web.views import user_view, with_uris

router = APIRouter(tags=["Access"])
P = "/projects/{project_id}"


class TypePermission(Strict):
    """One environment-type role of an invitation."""

    type: str = Field(max_length=32)
    role: str = Field(max_length=32)


class EnvironmentPermission(Strict):
    """One entry of the deprecated ``environments`` of an invitation: an environment
    ``id`` (or an environment ``type``) and a role."""

    id: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=32)
    role: str = Field(max_length=32)


class InvitationCreate(Strict):
    """``POST /projects/{id}/invitations``; ``role`` defaults to ``viewer``."""

    email: str = Field(max_length=320)
    role: str | None = Field(default=None, max_length=16)
    permissions: list[TypePermission] = Field(default_factory=list, max_length=3)
    environments: list[EnvironmentPermission] = Field(default_factory=list, max_length=100)
    force: bool = False


class UserAccessItem(Strict):
    """One entry of ``POST /projects/{id}/user-access``."""

    user_id: str = Field(max_length=64)
    permissions: list[str] = Field(max_length=8)


class PermissionsPatch(Strict):
    """``PATCH .../user-access/{user_id}``."""

    permissions: list[str] = Field(max_length=8)


class LegacyAccessCreate(Strict):
    """``POST /projects/{id}/access``: a user id or an email, and a role."""

    user: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    role: str = Field(max_length=16)


class RolePatch(Strict):
    """``PATCH`` of a legacy access item."""

    role: str = Field(max_length=16)


class MachineUserCreate(Strict):
    """``POST /projects/{id}/machine-users`` (a Homeport extension)."""

    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=256)
    role: str = Field(default="viewer", max_length=16)
    permissions: list[str] = Field(default_factory=list, max_length=8)


def _member(session: DbSession, ctx: ProjectContext, user_id: str) -> Account:
    account = session.get(Account, user_id)
    if account is None or access.current_roles(session, ctx.project, account.id) is None:
        raise NotFound("This user has no access to the project.")
    return account


def _user_access_view(
    ctx: ProjectContext, row: ProjectAccess, roles: access.Roles
) -> dict[str, Any]:
    path = f"{project_path(ctx.project.id)}/user-access/{row.account_id}"
    links: dict[str, Any] = {"self": link(path)}
    if ctx.grants.can_project("manage_access") and row.account_id != ctx.project.owner_id:
        links["update"] = {"href": path, "method": "PATCH"}
        links["delete"] = {"href": path, "method": "DELETE"}
    return {
        "user_id": row.account_id,
        "project_id": ctx.project.id,
        "project_title": ctx.project.title,
        "permissions": roles.permissions(),
        "granted_at": iso(row.granted_at),
        "updated_at": iso(row.updated_at),
        "_links": links,
    }


def _rows(session: DbSession, ctx: ProjectContext) -> list[tuple[ProjectAccess, access.Roles]]:
    out = []
    for row in projects.members(session, ctx.project):
        roles = access.current_roles(session, ctx.project, row.account_id)
        if roles is not None:
            out.append((row, roles))
    return out


# --- centralized user access ----------------------------------------------------------


@router.get(P + "/user-access")
def list_user_access(
    ctx: ProjectCtx,
    session: DbSession,
    page_size: PageSize = None,
    page_after: str | None = Query(default=None, alias="page[after]", max_length=64),
) -> dict[str, Any]:
    """Everyone's permissions on the project, with a ``ref:users`` link; pages of
    ``page[size]`` (1-200, as the spec bounds it) after ``page[after]`` when asked."""
    rows = _rows(session, ctx)
    if page_after is not None:
        ids_in_order = [r.account_id for r, _ in rows]
        start = ids_in_order.index(page_after) + 1 if page_after in ids_in_order else 0
        rows = rows[start:]
    base = f"{project_path(ctx.project.id)}/user-access"
    links: dict[str, Any] = {"self": link(base)}
    if page_size is not None and len(rows) > page_size:
        rows = rows[:page_size]
        after = rows[-1][0].account_id
        links["next"] = link(f"{base}?page[size]={page_size}&page[after]={after}")
    ids = ",".join(r.account_id for r, _ in rows)
    links["ref:users:0"] = link(f"/ref/users?in={ids}")
    return {"items": [_user_access_view(ctx, row, roles) for row, roles in rows], "_links": links}


@router.post(P + "/user-access", status_code=204)
def add_user_access(items: list[UserAccessItem], ctx: ProjectCtx, session: DbSession) -> Response:
    """Grant permissions to existing accounts (an array, as Platform.sh takes it)."""
    ctx.require("manage_access")
    if not items:
        raise Invalid.field("body", "Give at least one user.")
    for item in items:
        account = session.get(Account, item.user_id)
        if account is None:
            raise Invalid.field("user_id", f"No such user: {item.user_id}")
        access.set_roles(
            session,
            ctx.grants.account,
            ctx.project,
            account,
            access.parse_permissions(item.permissions),
        )
    return Response(status_code=204)


@router.get(P + "/user-access/{user_id}")
def get_user_access(user_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """One account's permissions."""
    account = _member(session, ctx, user_id)
    for row, roles in _rows(session, ctx):
        if row.account_id == account.id:
            return _user_access_view(ctx, row, roles)
    raise NotFound("This user has no access to the project.")


@router.patch(P + "/user-access/{user_id}", status_code=204)
def patch_user_access(
    user_id: str, body: PermissionsPatch, ctx: ProjectCtx, session: DbSession
) -> Response:
    """Replace one account's permissions."""
    ctx.require("manage_access")
    account = _member(session, ctx, user_id)
    access.set_roles(
        session,
        ctx.grants.account,
        ctx.project,
        account,
        access.parse_permissions(body.permissions),
    )
    return Response(status_code=204)


@router.delete(P + "/user-access/{user_id}", status_code=204)
def delete_user_access(user_id: str, ctx: ProjectCtx, session: DbSession) -> Response:
    """Remove an account from the project."""
    ctx.require("manage_access")
    access.remove_access(session, ctx.grants.account, ctx.project, _member(session, ctx, user_id))
    return Response(status_code=204)


@router.get("/ref/users")
def ref_users(
    actor: CurrentActor, session: DbSession, in_: str = Query("", alias="in")
) -> dict[str, Any]:
    """Public details of accounts the caller shares a project with (or may see)."""
    ids = [i for i in in_.split(",") if i][:200]
    shared = select(ProjectAccess.project_id).where(ProjectAccess.account_id == actor.account.id)
    co_members = set(
        session.scalars(
            select(ProjectAccess.account_id).where(ProjectAccess.project_id.in_(shared))
        )
    )
    out: dict[str, Any] = {}
    for account in session.scalars(select(Account).where(Account.id.in_(ids))):
        if account.id in co_members or may_view_account(actor.account, account):
            out[account.id] = {
                "id": account.id,
                "email": account.email,
                "username": account.username,
                "first_name": account.first_name,
                "last_name": account.last_name,
                "display_name": account.display_name,
                "kind": account.kind,
            }
    return out


# --- legacy project access ------------------------------------------------------------


def _legacy_view(ctx: ProjectContext, account: Account, roles: access.Roles) -> dict[str, Any]:
    path = f"{project_path(ctx.project.id)}/access/{account.id}"
    links: dict[str, Any] = {"self": link(path)}
    if ctx.grants.can_project("manage_access") and account.id != ctx.project.owner_id:
        links["#edit"] = link(path, "PATCH")
        links["#delete"] = link(path, "DELETE")
    return {
        "id": account.id,
        "user": account.id,
        "email": account.email,
        "role": roles.project_role,
        "kind": account.kind,
        "_links": links,
        "_embedded": {
            "users": [
                {
                    "id": account.id,
                    "display_name": account.display_name,
                    "email": account.email,
                    "username": account.username,
                    "kind": account.kind,
                    "created_at": iso(account.created_at),
                    "updated_at": iso(account.updated_at),
                }
            ]
        },
    }


@router.get(P + "/access")
def list_access(ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """Project roles (legacy shape)."""
    out = []
    for row, roles in _rows(session, ctx):
        account = session.get(Account, row.account_id)
        if account is not None:
            out.append(_legacy_view(ctx, account, roles))
    return out


@router.post(P + "/access", status_code=201)
def add_access(body: LegacyAccessCreate, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """Give an existing account a project role (admin; viewers also need a type role)."""
    ctx.require("manage_access")
    account = None
    if body.user:
        account = session.get(Account, body.user)
    elif body.email:
        account = access.find_claimant(session, ctx.grants.account, body.email)
    if account is None:
        raise Invalid.field("user", "No such user; invite them by email instead.")
    current = access.current_roles(session, ctx.project, account.id)
    type_roles = dict(current.type_roles) if current else {}
    roles = access.validated_roles(body.role, type_roles)
    recorded = access.set_roles(session, ctx.grants.account, ctx.project, account, roles)
    return ctx.accepted(session, 201, _legacy_view(ctx, account, roles), recorded)


@router.get(P + "/access/{user_id}")
def get_access(user_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """One project role."""
    account = _member(session, ctx, user_id)
    roles = access.current_roles(session, ctx.project, account.id)
    assert roles is not None
    return _legacy_view(ctx, account, roles)


@router.patch(P + "/access/{user_id}")
def patch_access(
    user_id: str, body: RolePatch, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Change a project role."""
    ctx.require("manage_access")
    account = _member(session, ctx, user_id)
    current = access.current_roles(session, ctx.project, account.id)
    roles = access.validated_roles(body.role, dict(current.type_roles) if current else {})
    recorded = access.set_roles(session, ctx.grants.account, ctx.project, account, roles)
    return ctx.accepted(session, 200, _legacy_view(ctx, account, roles), recorded)


@router.delete(P + "/access/{user_id}")
def delete_access(user_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """Remove an account from the project."""
    ctx.require("manage_access")
    recorded = access.remove_access(
        session, ctx.grants.account, ctx.project, _member(session, ctx, user_id)
    )
    return ctx.accepted(session, 200, None, recorded)


# --- environment types ----------------------------------------------------------------


def _type_path(ctx: ProjectContext, env_type: str) -> str:
    return f"{project_path(ctx.project.id)}/environment-types/{env_type}"


def _check_type(env_type: str) -> str:
    if env_type not in ENV_TYPES:
        raise NotFound("Environment type not found.")
    return env_type


def _type_view(ctx: ProjectContext, env_type: str) -> dict[str, Any]:
    path = _type_path(ctx, env_type)
    links: dict[str, Any] = {"self": link(path), "#access": link(f"{path}/access")}
    if ctx.grants.can_project("manage_access"):
        links["#edit"] = link(path, "PATCH")
        links["#manage-access"] = link(f"{path}/access", "POST")
    return {"id": env_type, "attributes": {}, "_links": links}


def _type_access_view(
    ctx: ProjectContext, env_type: str, account: Account, role: str
) -> dict[str, Any]:
    path = f"{_type_path(ctx, env_type)}/access/{account.id}"
    links: dict[str, Any] = {"self": link(path)}
    if ctx.grants.can_project("manage_access") and account.id != ctx.project.owner_id:
        links["#edit"] = link(path, "PATCH")
        links["#delete"] = link(path, "DELETE")
    return {
        "id": account.id,
        "user": account.id,
        "email": account.email,
        "role": role,
        "kind": account.kind,
        "_links": links,
    }


@router.get(P + "/environment-types")
def list_environment_types(ctx: ProjectCtx) -> list[dict[str, Any]]:
    """The three environment types."""
    return [_type_view(ctx, t) for t in ENV_TYPES]


@router.get(P + "/environment-types/{env_type}")
def get_environment_type(env_type: str, ctx: ProjectCtx) -> dict[str, Any]:
    """One environment type."""
    return _type_view(ctx, _check_type(env_type))


@router.get(P + "/environment-types/{env_type}/access")
def list_type_access(env_type: str, ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """Who holds which role on this type (project admins hold admin)."""
    _check_type(env_type)
    out = []
    for row, roles in _rows(session, ctx):
        role = roles.effective().get(env_type)
        account = session.get(Account, row.account_id)
        if role and account is not None:
            out.append(_type_access_view(ctx, env_type, account, role))
    return out


@router.post(P + "/environment-types/{env_type}/access", status_code=201)
def add_type_access(
    env_type: str, body: LegacyAccessCreate, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Give an account a role on this type."""
    ctx.require("manage_access")
    _check_type(env_type)
    account = session.get(Account, body.user) if body.user else None
    if account is None and body.email:
        account = access.find_claimant(session, ctx.grants.account, body.email)
    if account is None:
        raise Invalid.field("user", "No such user; invite them by email instead.")
    recorded = access.set_type_role(
        session, ctx.grants.account, ctx.project, account, env_type, body.role
    )
    return ctx.accepted(
        session, 201, _type_access_view(ctx, env_type, account, body.role), recorded
    )


@router.get(P + "/environment-types/{env_type}/access/{user_id}")
def get_type_access(
    env_type: str, user_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """One account's role on this type."""
    _check_type(env_type)
    account = _member(session, ctx, user_id)
    roles = access.current_roles(session, ctx.project, account.id)
    role = roles.effective().get(env_type) if roles else None
    if role is None:
        raise NotFound("This user has no role on this environment type.")
    return _type_access_view(ctx, env_type, account, role)


@router.patch(P + "/environment-types/{env_type}/access/{user_id}")
def patch_type_access(
    env_type: str, user_id: str, body: RolePatch, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Change one account's role on this type."""
    ctx.require("manage_access")
    _check_type(env_type)
    account = _member(session, ctx, user_id)
    recorded = access.set_type_role(
        session, ctx.grants.account, ctx.project, account, env_type, body.role
    )
    return ctx.accepted(
        session, 200, _type_access_view(ctx, env_type, account, body.role), recorded
    )


@router.delete(P + "/environment-types/{env_type}/access/{user_id}")
def delete_type_access(
    env_type: str, user_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Remove one account's role on this type."""
    ctx.require("manage_access")
    _check_type(env_type)
    account = _member(session, ctx, user_id)
    recorded = access.set_type_role(
        session, ctx.grants.account, ctx.project, account, env_type, None
    )
    return ctx.accepted(session, 200, None, recorded)


# --- invitations ----------------------------------------------------------------------


def _invitation_view(session: DbSession, inv: Invitation) -> dict[str, Any]:
    owner = session.get(Account, inv.owner_id) if inv.owner_id else None
    return {
        "id": inv.id,
        "state": inv.state,
        "project_id": inv.project_id,
        "role": inv.role,
        "email": inv.email,
        "owner": {"id": owner.id, "display_name": owner.display_name} if owner else None,
        "permissions": list(inv.permissions),
        "environments": [],
        "created_at": iso(inv.created_at),
        "updated_at": iso(inv.updated_at),
        "finished_at": iso(inv.finished_at),
    }


@router.get(P + "/invitations")
def list_invitations(
    ctx: ProjectCtx,
    session: DbSession,
    state: str = Query("pending", alias="filter[state]"),
) -> list[dict[str, Any]]:
    """Invitations (pending by default); admins only, since they show emails."""
    ctx.require("manage_access")
    states = [s for s in state.split(",") if s]
    return [
        _invitation_view(session, i) for i in access.list_invitations(session, ctx.project, states)
    ]


def _environment_type_roles(
    session: DbSession, ctx: ProjectContext, items: list[EnvironmentPermission]
) -> list[tuple[str, str]]:
    """The deprecated per-environment roles as roles on the environments' types."""
    out = []
    for item in items:
        if item.type is not None and item.id is None:
            out.append((item.type, item.role))
            continue
        if item.id is None:
            raise Invalid.field("environments", "Give each environment's id (or a type).")
        try:
            env = envs.get_environment(session, ctx.project, item.id)
        except NotFound:
            raise Invalid.field("environments", f"No such environment: {item.id}") from None
        if item.type is not None and item.type != env.type:
            raise Invalid.field("environments", f"{item.id} is a {env.type} environment.")
        out.append((env.type, item.role))
    return out


@router.post(P + "/invitations", status_code=201)
def create_invitation(
    body: InvitationCreate, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Invite by email (409 when already invited, unless ``force``)."""
    ctx.require("manage_access")
    type_roles = access.merge_type_roles(
        [(p.type, p.role) for p in body.permissions],
        _environment_type_roles(session, ctx, body.environments),
    )
    roles = access.validated_roles(body.role or "viewer", type_roles)
    invitation, _recorded = access.invite(
        session, ctx.grants.account, ctx.project, body.email, roles, body.force
    )
    return _invitation_view(session, invitation)


@router.delete(P + "/invitations/{invitation_id}", status_code=204)
def cancel_invitation(invitation_id: str, ctx: ProjectCtx, session: DbSession) -> Response:
    """Cancel a pending invitation."""
    ctx.require("manage_access")
    access.cancel_invitation(session, ctx.project, invitation_id)
    return Response(status_code=204)


# --- machine users --------------------------------------------------------------------


@router.post(P + "/machine-users", status_code=201)
def create_machine_user(
    body: MachineUserCreate, ctx: ProjectCtx, session: DbSession, request: Request, state: State
) -> dict[str, Any]:
    """Create a machine account with exactly the given roles, in one call."""
    ctx.require("manage_access")
    if body.permissions:
        roles = access.parse_permissions([body.role, *body.permissions])
    else:
        roles = access.validated_roles(body.role, {})
    account, recorded = access.create_machine_user(
        session, ctx.grants.account, ctx.project, body.email, body.name, roles
    )
    entity = with_uris(user_view(account), request, state).model_dump() | {
        "permissions": roles.permissions()
    }
    return ctx.accepted(session, 201, entity, recorded)
