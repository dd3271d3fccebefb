"""Resolving a project (and the caller's grants on it) from the path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.errors import Forbidden, NotFound
from homeport.domain.policy import (
    EnvAction,
    ProjectAction,
    ProjectGrants,
    env_refusal,
    load_grants,
)
from homeport.domain.projects import get_project
from homeport.store.models import Activity, Environment, Project
from homeport.web.deps import CurrentActor, DbSession, State
from homeport.web.hal import accepted


@dataclass
class ProjectContext:
    """The project of the path and what the caller holds on it."""

    project: Project
    grants: ProjectGrants
    base_url: str
    ssh_port: int | None = None

    def require(self, action: ProjectAction) -> None:
        """403 unless the caller may do ``action`` on the project."""
        if not self.grants.can_project(action):
            if action == "delete":
                raise Forbidden("Only the project's owner or a platform admin may delete it.")
            raise Forbidden("You need admin on this project to do this.")

    def environment(self, session: DbSession, name: str, action: EnvAction = "view") -> Environment:
        """The named environment; 404 if the caller may not even view it, else 403."""
        env = envs.get_environment(session, self.project, name)
        if not self.grants.can_env("view", env.type):
            raise NotFound("Environment not found.")
        if not self.grants.can_env(action, env.type):
            raise Forbidden(env_refusal(action, env.type))
        return env

    def visible_environments(self, session: Session) -> set[str] | None:
        """Names of the environments the caller may view; None when that is all of them
        (and, for project admins, activities of deleted environments too)."""
        rows = envs.list_environments(session, self.project)
        seen = {e.name for e in rows if self.grants.can_env("view", e.type)}
        if len(seen) == len(rows) and self.grants.is_project_admin:
            return None
        return seen

    def activity_filter(self, session: Session) -> ColumnElement[bool] | None:
        """Project-wide activities, and those of environments the caller may view."""
        seen = self.visible_environments(session)
        if seen is None:
            return None
        return or_(acts.no_environment(), acts.env_condition(sorted(seen)))

    def visible_activity(self, session: Session, activity_id: str) -> Activity:
        """One activity the caller may see; 404 otherwise."""
        activity = acts.get_activity(session, self.project.id, activity_id)
        seen = self.visible_environments(session)
        if seen is not None and activity.environments and not seen & set(activity.environments):
            raise NotFound("Activity not found.")
        return activity

    def can_cancel(self, session: Session, activity: Activity) -> bool:
        """Admins of every environment the activity concerns (project admins otherwise)."""
        if not activity.environments:
            return self.grants.can_project("cancel_activity")
        for name in activity.environments:
            try:
                env = envs.get_environment(session, self.project, name)
            except NotFound:  # the environment is gone: project admins decide
                return self.grants.can_project("cancel_activity")
            if not self.grants.can_env("cancel_activity", env.type):
                return False
        return True

    def accepted(
        self,
        session: Session,
        code: int,
        entity: Mapping[str, Any] | None,
        activities: Sequence[Activity],
    ) -> dict[str, Any]:
        """A mutation's body, with ``#cancel`` links as the caller's roles allow."""
        return accepted(code, entity, activities, lambda a: self.can_cancel(session, a))


def base_url(request: Request, state: State) -> str:
    """The public base URL (``HOMEPORT_PUBLIC_URL`` or the request's own)."""
    return state.settings.public_url or str(request.base_url).rstrip("/")


def project_context(
    project_id: str, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> ProjectContext:
    """404 for projects the caller holds no role on: they stay invisible."""
    project = get_project(session, project_id)
    grants = load_grants(session, actor.account, project)
    if not grants.can_project("view"):
        raise NotFound("Project not found.")
    ssh = state.settings.ssh_bind
    return ProjectContext(project, grants, base_url(request, state), ssh[1] if ssh else None)


ProjectCtx = Annotated[ProjectContext, Depends(project_context)]
