"""Per-ref decisions for a push, from the one policy, with Homeport's reasons.

Each refused ref gets one line the git client shows as
``! [remote rejected] main (Homeport: you need contributor on production environments
to push to main)``; nothing here touches the repository or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homeport.domain.environments import validate_name
from homeport.domain.errors import Invalid
from homeport.domain.policy import ENV_TYPES, ProjectGrants
from homeport.git.repos import ZERO, is_ancestor
from homeport.store.models import Environment, Project

PUSH_OPTIONS = (
    "environment.status",
    "environment.title",
    "environment.parent",
    "environment.type",
    "environment.clone_parent_on_create",
    "no-wait",
)


@dataclass(frozen=True)
class RefUpdate:
    """One ``old new ref`` line of a push."""

    old: str
    new: str
    ref: str

    @property
    def branch(self) -> str:
        """The branch name (``refs/heads/`` removed)."""
        return self.ref.removeprefix("refs/heads/")

    @property
    def deleting(self) -> bool:
        """The update deletes the branch."""
        return self.new == ZERO

    @property
    def creating(self) -> bool:
        """The branch does not exist yet."""
        return self.old == ZERO


@dataclass(frozen=True)
class PushOptions:
    """The ``-o`` options Homeport honours (others are ignored, as git allows)."""

    activate: bool = False
    title: str | None = None
    parent: str | None = None
    env_type: str | None = None
    clone_parent: bool = True
    no_wait: bool = False
    unknown: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: list[str]) -> PushOptions:
        """Read ``key=value`` options; raises Invalid naming a bad value."""
        values: dict[str, str] = {}
        unknown: list[str] = []
        for item in raw[:32]:
            key, _, value = item.partition("=")
            if key in PUSH_OPTIONS:
                values[key] = value
            else:
                unknown.append(key[:64])
        status = values.get("environment.status")
        if status not in (None, "active", "inactive"):
            raise Invalid.field("environment.status", "Use environment.status=active.")
        env_type = values.get("environment.type")
        if env_type is not None and env_type not in ENV_TYPES:
            raise Invalid.field("environment.type", f"Unknown environment type {env_type!r}.")
        clone = values.get("environment.clone_parent_on_create", "true").lower()
        if clone not in ("true", "false", "1", "0"):
            raise Invalid.field("environment.clone_parent_on_create", "Use true or false.")
        title = values.get("environment.title")
        if title is not None and len(title) > 256:
            raise Invalid.field("environment.title", "At most 256 characters.")
        return cls(
            activate=status == "active",
            title=title,
            parent=values.get("environment.parent"),
            env_type=env_type,
            clone_parent=clone in ("true", "1"),
            no_wait="no-wait" in values,
            unknown=unknown,
        )


def _need(role: str, env_type: str, verb: str, branch: str) -> str:
    return f"Homeport: you need {role} on {env_type} environments to {verb} {branch}"


def refusal(
    grants: ProjectGrants,
    project: Project,
    update: RefUpdate,
    env: Environment | None,
    options: PushOptions,
    repo: Path,
) -> str | None:
    """Why this ref update is refused, or None when the policy allows it."""
    if not update.ref.startswith("refs/heads/"):
        return "Homeport: only branches (refs/heads/*) can be pushed"
    try:
        validate_name(update.branch)
    except Invalid as exc:
        return f"Homeport: {exc.message}"
    name = update.branch
    if update.deleting:
        if name == project.default_branch:
            return "Homeport: the default branch cannot be deleted"
        if env is None:
            return (
                None if grants.is_project_admin else _need("admin", "development", "delete", name)
            )
        if env.status != "inactive":
            return (
                "Homeport: The Git branch cannot be deleted until the environment "
                "has been deactivated."
            )
        if not grants.can_env("delete", env.type):
            return _need("admin", env.type, "delete", name)
        return None
    if env is None:
        # A new environment: the push right on its own type is enough, so developers
        # who only view production still push feature branches.
        env_type = options.env_type or "development"
        if env_type == "production":
            return "Homeport: a pushed branch cannot create a production environment"
        if not grants.can_env("push", env_type):
            return _need("contributor", env_type, "push", name)
        if not update.creating and not grants.can_env("force_push", env_type):
            return _need("admin", env_type, "force-push", name)
        if options.activate and not grants.can_env("activate", env_type):
            return _need("admin", env_type, "activate", name)
        return None
    if not grants.can_env("push", env.type):
        return _need("contributor", env.type, "push to", name)
    forced = not update.creating and not is_ancestor(repo, update.old, update.new)
    if forced and not grants.can_env("force_push", env.type):
        return _need("admin", env.type, "force-push to", name)
    if options.activate and env.status == "inactive" and not grants.can_env("activate", env.type):
        return _need("admin", env.type, "activate", name)
    return None
