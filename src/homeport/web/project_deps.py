"""Resolving a project (and the caller's grants on it) from the path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, or_, select
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

    @property
    def sees_all_activities(self) -> bool:
        """Project admins see every activity, those of deleted environments too."""
        return self.grants.is_project_admin and not self.grants.account.deactivated

    def viewable_types(self) -> set[str]:
        """The environment types whose environments the caller may view."""
        return {t for t in self.grants.type_roles if self.grants.can_env("view", t)}

    def visible_environments(self, session: Session) -> set[str] | None:
        """Names of the environments the caller may view; None when that is all of them
        (and, for project admins, activities of deleted environments too)."""
        if self.sees_all_activities:
            return None
        rows = envs.list_environments(session, self.project)
        return {e.name for e in rows if self.grants.can_env("view", e.type)}

    def activity_filter(self, session: Session) -> ColumnElement[bool] | None:
        """Project-wide activities, and those of environments the caller may view (a
        join on the environments' types, however many environments there are)."""
        if self.sees_all_activities:
            return None
        return or_(
            acts.no_environment(), acts.env_type_condition(self.project.id, self.viewable_types())
        )

    def visible_activity(self, session: Session, activity_id: str) -> Activity:
        """One activity the caller may see; 404 otherwise."""
        activity = acts.get_activity(session, self.project.id, activity_id)
        if self.sees_all_activities or not activity.environments:
            return activity
        types = self._env_types(session, activity.environments)
        if not any(self.grants.can_env("view", t) for t in types.values()):
            raise NotFound("Activity not found.")
        return activity

    def _env_types(self, session: Session, names: Iterable[str]) -> dict[str, str]:
        """Environment name → type for those of ``names`` that exist (one query)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = session.execute(
            select(Environment.name, Environment.type).where(
                Environment.project_id == self.project.id, Environment.name.in_(wanted)
            )
        ).all()
        return {name: env_type for name, env_type in rows}

    def cancel_rights(
        self, session: Session, activities: Iterable[Activity]
    ) -> Callable[[Activity], bool]:
        """``can_cancel`` for a whole page: the environments' types in one query."""
        listed = list(activities)
        types = self._env_types(session, (n for a in listed for n in a.environments))

        def decide(activity: Activity) -> bool:
            if not activity.environments:
                return self.grants.can_project("cancel_activity")
            for name in activity.environments:
                env_type = types.get(name)
                if env_type is None:  # the environment is gone: project admins decide
                    return self.grants.can_project("cancel_activity")
                if not self.grants.can_env("cancel_activity", env_type):
                    return False
            return True

        return decide

    def can_cancel(self, session: Session, activity: Activity) -> bool:
        """Admins of every environment the activity concerns (project admins otherwise)."""
        return self.cancel_rights(session, [activity])(activity)

    def accepted(
        self,
        session: Session,
        code: int,
        entity: Mapping[str, Any] | None,
        activities: Sequence[Activity],
    ) -> dict[str, Any]:
        """A mutation's body, with ``#cancel`` links as the caller's roles allow."""
        return accepted(code, entity, activities, self.cancel_rights(session, activities))


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
