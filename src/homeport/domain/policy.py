"""The one access policy: may this actor do this action on this resource?

Routes, ``_links``, git, SSH and the console all ask here, so a link is shown exactly
when the call would pass. Rules follow Platform.sh's role matrix (project role admin or
viewer; per environment type admin, contributor or viewer), taking the stricter reading
where its documents disagree (see docs/design.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.store.models import Account, EnvironmentTypeAccess, Project, ProjectAccess

ENV_TYPES = ("production", "staging", "development")
PROJECT_ROLES = ("admin", "viewer")
ENV_ROLES = ("admin", "contributor", "viewer")
_RANK = {"viewer": 1, "contributor": 2, "admin": 3}

# Environment actions and the least environment-type role each needs.
EnvAction = Literal[
    "view",
    "push",
    "force_push",
    "ssh",
    "branch",
    "activate",
    "deactivate",
    "redeploy",
    "pause",
    "resume",
    "merge",
    "synchronize",
    "delete",
    "edit",
    "manage_variables",
    "backup",
    "restore",
    "cancel_activity",
    "run_cron",
]
ENV_ACTION_ROLE: Mapping[str, str] = {
    "view": "viewer",
    "push": "contributor",
    "force_push": "admin",
    "ssh": "contributor",
    # Current docs let viewers branch; older ones did not. We take the stricter reading.
    "branch": "contributor",
    "activate": "admin",
    "deactivate": "admin",
    "redeploy": "admin",
    "pause": "admin",
    "resume": "admin",
    # Merging or syncing changes one environment with another's code or data: admin
    # on both environment types (checked on each side).
    "merge": "admin",
    "synchronize": "admin",
    "delete": "admin",
    "edit": "admin",
    "manage_variables": "admin",
    "backup": "admin",
    "restore": "admin",
    "cancel_activity": "admin",
    # Running a cron now (a Homeport extension) does what the cron's owner scheduled.
    "run_cron": "admin",
}

# What each action does, for refusals that say which role is needed.
ENV_ACTION_WORDS: Mapping[str, str] = {
    "view": "see them",
    "push": "push to them",
    "force_push": "force-push to them or delete their branches",
    "ssh": "open shells on them or read their logs",
    "branch": "branch from them",
    "activate": "activate them",
    "deactivate": "deactivate them",
    "redeploy": "redeploy them",
    "pause": "pause them",
    "resume": "resume them",
    "merge": "merge them or merge into them",
    "synchronize": "synchronize them or from them",
    "delete": "delete them",
    "edit": "change them",
    "manage_variables": "change their variables",
    "backup": "back them up",
    "restore": "restore them",
    "cancel_activity": "cancel their activities",
    "run_cron": "run their crons",
}


def env_refusal(action: str, env_type: str, role: str | None = None) -> str:
    """``You need admin on production environments to change their variables.``"""
    need = role or ENV_ACTION_ROLE[action]
    return f"You need {need} on {env_type} environments to {ENV_ACTION_WORDS[action]}."


ProjectAction = Literal[
    "view", "edit", "delete", "manage_access", "manage_variables", "cancel_activity"
]


def may_view_account(actor: Account, target: Account) -> bool:
    """Oneself, platform admins, and the account's creator see an account.

    Seeing is not managing: a creator's rights over a machine user's credentials are
    ``may_manage_credentials``.
    """
    if actor.deactivated:
        return False
    return actor.id == target.id or actor.is_admin or target.created_by_id == actor.id


def projects_held(session: Session, account_id: str) -> set[str]:
    """Ids of every project where the account holds a project or environment-type role."""
    held = set(
        session.scalars(
            select(ProjectAccess.project_id).where(ProjectAccess.account_id == account_id)
        )
    )
    held.update(
        session.scalars(
            select(EnvironmentTypeAccess.project_id).where(
                EnvironmentTypeAccess.account_id == account_id
            )
        )
    )
    return held


def _admin_of(session: Session, account_id: str) -> set[str]:
    return set(
        session.scalars(
            select(ProjectAccess.project_id).where(
                ProjectAccess.account_id == account_id, ProjectAccess.role == "admin"
            )
        )
    )


def may_manage_credentials(session: Session, actor: Account, owner: Account) -> bool:
    """API tokens and SSH keys: oneself, a platform admin, or a machine user's creator.

    The creator keeps that right only while they are, *now*, admin on every project
    where the machine user holds a role: otherwise a creator removed from a project
    would still act there through the machine user's tokens.
    """
    if actor.deactivated:
        return False
    if actor.id == owner.id or actor.is_admin:
        return True
    if owner.kind != "machine" or owner.created_by_id != actor.id:
        return False
    return projects_held(session, owner.id) <= _admin_of(session, actor.id)


def may_claim_invitation(session: Session, account: Account, inviter: Account | None) -> bool:
    """Whether an invitation (or an add by email) may land on an existing ``account``.

    Creating an account never grants access its creator could not grant: people and
    accounts a platform admin (or the operator's CLI) created claim invitations sent
    to their email; a machine user a project admin created claims nothing, unless the
    inviter could manage it anyway.
    """
    if account.kind == "human" or account.created_by_id is None:
        return True
    creator = session.get(Account, account.created_by_id)
    if creator is not None and creator.is_admin and not creator.deactivated:
        return True
    return inviter is not None and may_manage_credentials(session, inviter, account)


def may_manage_accounts(actor: Account) -> bool:
    """Creating and deactivating arbitrary accounts is for platform admins."""
    return actor.is_admin and not actor.deactivated


def may_create_project(actor: Account, project_create: str) -> bool:
    """Platform admins; everyone else only when ``HOMEPORT_PROJECT_CREATE=everyone``.

    Machine users never create projects unless they are platform admins: they exist
    to do one narrow job.
    """
    if actor.deactivated:
        return False
    if actor.is_admin:
        return True
    return project_create == "everyone" and actor.kind == "human"


@dataclass(frozen=True)
class ProjectGrants:
    """What one account holds on one project; the input of every project decision."""

    account: Account
    project: Project
    project_role: str | None = None
    type_roles: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_project_admin(self) -> bool:
        """Project admins, and platform admins, act as admin everywhere in the project."""
        return self.project_role == "admin" or self.account.is_admin

    @property
    def is_member(self) -> bool:
        """The account holds some role on the project (or is a platform admin)."""
        return self.account.is_admin or self.project_role is not None

    def type_role(self, env_type: str) -> str | None:
        """The effective role on an environment type."""
        if self.is_project_admin:
            return "admin"
        return self.type_roles.get(env_type)

    def can_project(self, action: ProjectAction) -> bool:
        """Project-wide actions."""
        if self.account.deactivated:
            return False
        if action == "view":
            return self.is_member
        if action == "delete":
            # Deleting everything is for the owner and platform admins only.
            owner = self.project.owner_id == self.account.id and self.is_project_admin
            return self.account.is_admin or owner
        return self.is_project_admin

    def can_env(self, action: EnvAction, env_type: str) -> bool:
        """An action on an environment of type ``env_type``."""
        if self.account.deactivated:
            return False
        role = self.type_role(env_type)
        if role is None:
            return False
        return _RANK[role] >= _RANK[ENV_ACTION_ROLE[action]]

    def can_ssh(self, env_type: str, minimum_role: str | None) -> bool:
        """A shell on an app of an ``env_type`` environment: the app's `access.ssh`
        names the least role (contributor when unset)."""
        if self.account.deactivated:
            return False
        role = self.type_role(env_type)
        need = minimum_role if minimum_role in _RANK else ENV_ACTION_ROLE["ssh"]
        return role is not None and _RANK[role] >= _RANK[need]

    def can_branch(self, parent_type: str, child_type: str) -> bool:
        """Branching needs contributor on the parent's type and on the new one's."""
        return self.can_env("branch", parent_type) and self.can_env("branch", child_type)

    def can_restore(self, source_type: str, target_type: str) -> bool:
        """Restoring copies the source's data into the target: the backup right on the
        source's type and admin (``restore``) on the target's, so no one reads data
        across a permission boundary by restoring it somewhere they may read."""
        return self.can_env("backup", source_type) and self.can_env("restore", target_type)

    def can_change_type(self, old_type: str, new_type: str) -> bool:
        """Moving an environment between types needs admin on both."""
        return self.can_env("edit", old_type) and self.can_env("edit", new_type)


def load_grants_many(
    session: Session, account: Account, projects: Sequence[Project]
) -> dict[str, ProjectGrants]:
    """The account's roles on each of ``projects``, in two queries however many."""
    ids = [p.id for p in projects]
    if not ids:
        return {}
    rows = session.execute(
        select(ProjectAccess.project_id, ProjectAccess.role).where(
            ProjectAccess.account_id == account.id, ProjectAccess.project_id.in_(ids)
        )
    ).all()
    project_roles = {project_id: role for project_id, role in rows}
    type_roles: dict[str, dict[str, str]] = {}
    for project_id, env_type, role in session.execute(
        select(
            EnvironmentTypeAccess.project_id,
            EnvironmentTypeAccess.env_type,
            EnvironmentTypeAccess.role,
        ).where(
            EnvironmentTypeAccess.account_id == account.id,
            EnvironmentTypeAccess.project_id.in_(ids),
        )
    ).all():
        type_roles.setdefault(project_id, {})[env_type] = role
    return {
        p.id: ProjectGrants(
            account=account,
            project=p,
            project_role=project_roles.get(p.id),
            type_roles=type_roles.get(p.id, {}),
        )
        for p in projects
    }


def load_grants(session: Session, account: Account, project: Project) -> ProjectGrants:
    """Read the account's roles on ``project``."""
    project_role = session.scalar(
        select(ProjectAccess.role).where(
            ProjectAccess.project_id == project.id, ProjectAccess.account_id == account.id
        )
    )
    rows = session.execute(
        select(EnvironmentTypeAccess.env_type, EnvironmentTypeAccess.role).where(
            EnvironmentTypeAccess.project_id == project.id,
            EnvironmentTypeAccess.account_id == account.id,
        )
    ).all()
    return ProjectGrants(
        account=account,
        project=project,
        project_role=project_role,
        type_roles={t: r for t, r in rows},
    )
