"""Project roles, environment-type roles, invitations and machine users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from homeport.domain import accounts, activities
from homeport.domain.activities import Phrase, strong
from homeport.domain.errors import Conflict, Forbidden, Invalid, NotFound
from homeport.domain.policy import ENV_ROLES, ENV_TYPES, PROJECT_ROLES, may_claim_invitation
from homeport.store.models import (
    Account,
    Activity,
    Environment,
    EnvironmentTypeAccess,
    Invitation,
    Project,
    ProjectAccess,
)
from homeport.store.types import utcnow


@dataclass(frozen=True)
class Roles:
    """A project role and, for viewers, a role per environment type."""

    project_role: str
    type_roles: Mapping[str, str]

    def effective(self) -> dict[str, str]:
        """The role on each environment type (project admins are admin everywhere)."""
        if self.project_role == "admin":
            return dict.fromkeys(ENV_TYPES, "admin")
        return dict(self.type_roles)

    def permissions(self) -> list[str]:
        """The centralized form: ``["viewer", "production:admin", ...]``."""
        if self.project_role == "admin":
            return ["admin"]
        return ["viewer"] + [f"{t}:{self.type_roles[t]}" for t in ENV_TYPES if t in self.type_roles]


def validated_roles(
    project_role: str, type_roles: Mapping[str, str | None], field: str = "permissions"
) -> Roles:
    """Check role names; a non-admin must hold at least one environment-type role."""
    if project_role not in PROJECT_ROLES:
        raise Invalid.field("role", "The project role must be 'admin' or 'viewer'.")
    clean: dict[str, str] = {}
    for env_type, role in type_roles.items():
        if env_type not in ENV_TYPES:
            raise Invalid.field(field, f"Unknown environment type: {env_type!r}")
        if role is None or role == "none":
            continue
        if role not in ENV_ROLES:
            raise Invalid.field(field, f"Unknown role {role!r} for {env_type}.")
        clean[env_type] = role
    if project_role == "admin":
        # Type roles are meaningless for project admins; they hold admin everywhere.
        return Roles("admin", {})
    if not clean:
        raise Invalid.field(
            field, "A non-admin user must be added to at least one environment type."
        )
    return Roles("viewer", clean)


def parse_permissions(permissions: Sequence[str]) -> Roles:
    """The centralized permission array, e.g. ``["viewer", "development:contributor"]``."""
    project_role = "viewer"
    type_roles: dict[str, str | None] = {}
    if not isinstance(permissions, list | tuple) or not permissions:
        raise Invalid.field("permissions", "Give at least one permission.")
    for perm in permissions:
        if not isinstance(perm, str):
            raise Invalid.field("permissions", "Permissions are strings.")
        if perm in PROJECT_ROLES:
            project_role = "admin" if perm == "admin" or project_role == "admin" else "viewer"
            continue
        env_type, sep, role = perm.partition(":")
        if not sep:
            raise Invalid.field("permissions", f"Unknown permission: {perm!r}")
        if env_type in type_roles:
            raise Invalid.field("permissions", f"Two roles for {env_type}.")
        type_roles[env_type] = role
    return validated_roles(project_role, type_roles)


def merge_type_roles(*sources: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """Environment-type roles from several lists (``permissions`` and the deprecated
    ``environments`` of an invitation); two different roles for one type are refused."""
    merged: dict[str, str | None] = {}
    for source in sources:
        for env_type, role in source:
            if merged.get(env_type, role) != role:
                raise Invalid.field("permissions", f"Two roles for {env_type}.")
            merged[env_type] = role
    return merged


def current_roles(session: Session, project: Project, account_id: str) -> Roles | None:
    """The account's roles on the project, or None when it has no access."""
    project_role = session.scalar(
        select(ProjectAccess.role).where(
            ProjectAccess.project_id == project.id, ProjectAccess.account_id == account_id
        )
    )
    if project_role is None:
        return None
    rows = session.execute(
        select(EnvironmentTypeAccess.env_type, EnvironmentTypeAccess.role).where(
            EnvironmentTypeAccess.project_id == project.id,
            EnvironmentTypeAccess.account_id == account_id,
        )
    ).all()
    return Roles(project_role, {t: r for t, r in rows})


def _record_changes(
    session: Session,
    actor: Account | None,
    project: Project,
    target: Account,
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> list[Activity]:
    recorded = []
    who = activities.user_markup(actor)
    whom = activities.user_markup(target)
    for env_type in ENV_TYPES:
        old, new = before.get(env_type), after.get(env_type)
        if old == new:
            continue
        phrase = Phrase().add(who)
        if old is None:
            kind = "create"
            phrase.add(" added ").add(whom).add(" as ").add(strong(str(new)))
        elif new is None:
            kind = "delete"
            phrase.add(" removed ").add(whom).add(" from")
        else:
            kind = "update"
            phrase.add(" changed the role of ").add(whom).add(" to ").add(strong(new))
        phrase.add(f" on {env_type} environments")
        recorded.append(
            activities.record(
                session,
                project_id=project.id,
                type=f"environment_type.access.{kind}",
                actor=actor,
                phrase=phrase,
                payload={
                    "environment_type": env_type,
                    "access": {
                        "user": activities.actor_payload(target),
                        "role": new,
                        "previous_role": old,
                    },
                },
            )
        )
        # SSH access follows roles, and a redeploy applies it (as on Platform.sh).
        session.execute(
            update(Environment)
            .where(Environment.project_id == project.id, Environment.type == env_type)
            .values(needs_redeploy=True)
        )
    return recorded


def set_roles(
    session: Session, actor: Account | None, project: Project, target: Account, roles: Roles
) -> list[Activity]:
    """Grant or change ``target``'s roles; the owner's roles cannot change."""
    if target.id == project.owner_id:
        raise Forbidden("The project owner's role(s) cannot be changed.")
    if target.deactivated:
        raise Conflict("This account is deactivated.")
    before_roles = current_roles(session, project, target.id)
    before = before_roles.effective() if before_roles else {}
    row = session.scalar(
        select(ProjectAccess).where(
            ProjectAccess.project_id == project.id, ProjectAccess.account_id == target.id
        )
    )
    if row is None:
        session.add(
            ProjectAccess(project_id=project.id, account_id=target.id, role=roles.project_role)
        )
    elif before_roles != roles:
        # The record's updated_at follows any change, type roles included.
        row.role = roles.project_role
        row.updated_at = utcnow()
    existing = {
        r.env_type: r
        for r in session.scalars(
            select(EnvironmentTypeAccess).where(
                EnvironmentTypeAccess.project_id == project.id,
                EnvironmentTypeAccess.account_id == target.id,
            )
        )
    }
    for env_type in ENV_TYPES:
        want = roles.type_roles.get(env_type)
        have = existing.get(env_type)
        if want is None and have is not None:
            session.delete(have)
        elif want is not None and have is None:
            session.add(
                EnvironmentTypeAccess(
                    project_id=project.id, account_id=target.id, env_type=env_type, role=want
                )
            )
        elif want is not None and have is not None and have.role != want:
            have.role = want
    session.flush()
    return _record_changes(session, actor, project, target, before, roles.effective())


def remove_access(
    session: Session, actor: Account | None, project: Project, target: Account
) -> list[Activity]:
    """Remove every role ``target`` holds on the project."""
    if target.id == project.owner_id:
        raise Forbidden("The project owner's role(s) cannot be changed.")
    before_roles = current_roles(session, project, target.id)
    if before_roles is None:
        raise NotFound("This user has no access to the project.")
    for model in (ProjectAccess, EnvironmentTypeAccess):
        for row in session.scalars(
            select(model).where(model.project_id == project.id, model.account_id == target.id)
        ):
            session.delete(row)
    session.flush()
    return _record_changes(session, actor, project, target, before_roles.effective(), {})


def set_type_role(
    session: Session,
    actor: Account,
    project: Project,
    target: Account,
    env_type: str,
    role: str | None,
) -> list[Activity]:
    """Change one environment-type role (the legacy environment-types endpoints)."""
    current = current_roles(session, project, target.id)
    if current is not None and current.project_role == "admin":
        raise Conflict("Project admins hold admin on every environment type.")
    type_roles: dict[str, str | None] = dict(current.type_roles) if current else {}
    type_roles[env_type] = role
    if current is None and role is None:
        raise NotFound("This user has no access to the project.")
    remaining = {t: r for t, r in type_roles.items() if r is not None}
    if not remaining:
        return remove_access(session, actor, project, target)
    return set_roles(session, actor, project, target, validated_roles("viewer", type_roles))


# --- invitations ----------------------------------------------------------------------


def invite(
    session: Session,
    actor: Account,
    project: Project,
    email: str,
    roles: Roles,
    force: bool = False,
) -> tuple[Invitation, list[Activity]]:
    """Invite by email.

    An existing account that may claim it (``policy.may_claim_invitation``) gets access
    at once (state ``accepted``); otherwise the invitation stays pending.
    """
    email = accounts.normalize_email(email)
    key = accounts.email_key(email)
    pending = session.scalars(
        select(Invitation).where(
            Invitation.project_id == project.id,
            Invitation.email_key == key,
            Invitation.state == "pending",
        )
    ).all()
    if pending and not force:
        raise Conflict(f"{email} has already been invited to this project.")
    now = utcnow()
    for old in pending:
        old.state = "cancelled"
        old.finished_at = now
    invitation = Invitation(
        project_id=project.id,
        email=email,
        email_key=key,
        role=roles.project_role,
        permissions=[{"type": t, "role": r} for t, r in roles.type_roles.items()],
        state="pending",
        owner_id=actor.id,
    )
    session.add(invitation)
    session.flush()
    recorded: list[Activity] = []
    account = accounts.find_by_email(session, email)
    if account is not None and may_claim_invitation(session, account, actor):
        recorded = set_roles(session, actor, project, account, roles)
        invitation.state = "accepted"
        invitation.finished_at = now
    return invitation, recorded


def invitation_roles(invitation: Invitation) -> Roles:
    """The roles an invitation grants."""
    return validated_roles(invitation.role, {p["type"]: p["role"] for p in invitation.permissions})


def apply_pending_invitations(session: Session, account: Account) -> list[Activity]:
    """Apply the pending invitations for a new account's email that it may claim.

    Callers that create accounts call this; a machine user a project admin created
    claims only the invitations its own creator sent (``policy.may_claim_invitation``).
    """
    recorded: list[Activity] = []
    for invitation in session.scalars(
        select(Invitation).where(
            Invitation.email_key == account.email_key, Invitation.state == "pending"
        )
    ).all():
        project = session.get(Project, invitation.project_id)
        inviter = session.get(Account, invitation.owner_id) if invitation.owner_id else None
        if project is None or not may_claim_invitation(session, account, inviter):
            continue
        recorded += set_roles(session, inviter, project, account, invitation_roles(invitation))
        invitation.state = "accepted"
        invitation.finished_at = utcnow()
    return recorded


def list_invitations(
    session: Session, project: Project, states: Iterable[str] = ("pending",)
) -> Sequence[Invitation]:
    """Invitations of a project in the given states, newest first."""
    query = select(Invitation).where(
        Invitation.project_id == project.id, Invitation.state.in_(list(states))
    )
    return session.scalars(query.order_by(Invitation.created_at.desc())).all()


def cancel_invitation(session: Session, project: Project, invitation_id: str) -> None:
    """Cancel a pending invitation."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.project_id != project.id:
        raise NotFound("Invitation not found.")
    if invitation.state != "pending":
        raise Conflict("Only a pending invitation can be cancelled.")
    invitation.state = "cancelled"
    invitation.finished_at = utcnow()


# --- machine users --------------------------------------------------------------------


def create_machine_user(
    session: Session,
    actor: Account,
    project: Project,
    email: str,
    name: str,
    roles: Roles,
) -> tuple[Account, list[Activity]]:
    """Create a machine account for ``project`` with exactly ``roles``."""
    name = (name or "").strip()
    first, _, last = name.partition(" ")
    account = accounts.create_account(
        session,
        accounts.NewAccount(
            email=email,
            kind="machine",
            first_name=first,
            last_name=last,
            created_by_id=actor.id,
        ),
    )
    recorded = set_roles(session, actor, project, account, roles)
    return account, recorded + apply_pending_invitations(session, account)


def find_claimant(session: Session, actor: Account, email: str) -> Account | None:
    """The account an add-by-email from ``actor`` may land on, or None (invite instead)."""
    account = accounts.find_by_email(session, email)
    if account is None or not may_claim_invitation(session, account, actor):
        return None
    return account
