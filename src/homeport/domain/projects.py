"""Projects: creation (with the production environment), edits, deletion, listing."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import activities
from homeport.domain.activities import Phrase, strong
from homeport.domain.environments import new_environment, validate_name
from homeport.domain.errors import Invalid, NotFound
from homeport.domain.ids import short_id
from homeport.store.models import (
    Account,
    Activity,
    Project,
    ProjectAccess,
)

_PROJECT_ID = re.compile(r"[a-z0-9]{1,32}")


@dataclass(frozen=True)
class NewProject:
    """What ``POST /projects`` takes."""

    title: str
    default_branch: str = "main"
    region: str = "local"
    timezone: str = "UTC"
    description: str = ""


def _check_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise Invalid.field("title", "This field is required.")
    if len(title) > 256:
        raise Invalid.field("title", "At most 256 characters.")
    return title


def _check_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field("timezone", f"Unknown time zone: {tz!r}") from None
    return tz


def create_project(session: Session, actor: Account, new: NewProject) -> tuple[Project, Activity]:
    """Create a project, its production environment and the owner's admin role."""
    title = _check_title(new.title)
    branch = validate_name(new.default_branch, "default_branch")
    region = (new.region or "local").strip()
    if not re.fullmatch(r"[a-z0-9.-]{1,64}", region):
        raise Invalid.field("region", "Use lowercase letters, digits, '.' or '-'.")
    if len(new.description) > 4096:
        raise Invalid.field("description", "At most 4096 characters.")
    project = Project(
        id=short_id(),
        title=title,
        description=new.description,
        default_branch=branch,
        region=region,
        timezone=_check_timezone(new.timezone or "UTC"),
        owner_id=actor.id,
    )
    session.add(project)
    session.flush()
    env = new_environment(project.id, branch, env_type="production", parent=None)
    env.is_main = True
    env.status = "active"
    session.add(env)
    session.add(ProjectAccess(project_id=project.id, account_id=actor.id, role="admin"))
    who_markup = activities.user_markup(actor)
    activity = activities.record(
        session,
        project_id=project.id,
        type="project.create",
        actor=actor,
        phrase=Phrase().add(who_markup).add(" created project ").add(strong(title)),
        environments=[branch],
        payload={"project": {"id": project.id, "title": title}},
    )
    return project, activity


def get_project(session: Session, project_id: str) -> Project:
    """A project by id; raises NotFound."""
    if not _PROJECT_ID.fullmatch(project_id or ""):
        raise NotFound("Project not found.")
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    return project


def projects_of(session: Session, account: Account) -> Sequence[Project]:
    """The projects ``account`` holds a role on (every project for platform admins)."""
    query = select(Project).order_by(Project.created_at, Project.id)
    if not account.is_admin:
        member = select(ProjectAccess.project_id).where(ProjectAccess.account_id == account.id)
        query = query.where(Project.id.in_(member))
    return session.scalars(query).all()


def update_project(
    session: Session,
    actor: Account,
    project: Project,
    title: str | None = None,
    description: str | None = None,
    timezone: str | None = None,
    default_branch: str | None = None,
) -> list[Activity]:
    """Apply a PATCH; a title change is recorded as ``project.modify.title``."""
    recorded: list[Activity] = []
    if default_branch is not None and default_branch != project.default_branch:
        raise Invalid.field("default_branch", "The default branch cannot be changed yet.")
    if timezone is not None:
        project.timezone = _check_timezone(timezone)
    if description is not None:
        if len(description) > 4096:
            raise Invalid.field("description", "At most 4096 characters.")
        project.description = description
    if title is not None:
        new_title = _check_title(title)
        if new_title != project.title:
            old = project.title
            project.title = new_title
            recorded.append(
                activities.record(
                    session,
                    project_id=project.id,
                    type="project.modify.title",
                    actor=actor,
                    phrase=Phrase()
                    .add(activities.user_markup(actor))
                    .add(" changed the project title from ")
                    .add(strong(old))
                    .add(" to ")
                    .add(strong(new_title)),
                    payload={"old_title": old, "new_title": new_title},
                )
            )
    return recorded


def delete_project(session: Session, project: Project, environments_root: Path) -> None:
    """Delete a project with its environments, access, activities and data."""
    session.delete(project)
    session.flush()
    target = environments_root / project.id
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)


def members(session: Session, project: Project) -> Sequence[ProjectAccess]:
    """Every project role on ``project``."""
    query = select(ProjectAccess).where(ProjectAccess.project_id == project.id)
    return session.scalars(query.order_by(ProjectAccess.granted_at, ProjectAccess.pk)).all()
