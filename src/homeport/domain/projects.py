"""Projects: creation (with the production environment), edits, deletion, listing."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, and_, func, literal, or_, select
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
    return session.scalars(_member_query(account).order_by(Project.created_at, Project.id)).all()


# `sort` values of a project list (a leading `-` for descending).
SORTS = ("created_at", "updated_at", "id", "title")
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class ProjectPage:
    """One page of a project list, and what the next and previous pages start from."""

    projects: Sequence[Project]
    total: int
    next_after: str | None
    previous_before: str | None


def _member_query(account: Account) -> Any:
    query = select(Project)
    if not account.is_admin:
        member = select(ProjectAccess.project_id).where(ProjectAccess.account_id == account.id)
        query = query.where(Project.id.in_(member))
    return query


def _title_key(session: Session, value: Any) -> Any:
    """A title compared without regard to ASCII case, in code point order, on both stores
    (PostgreSQL's "C" collation: its ``lower`` then folds ASCII only, as SQLite's does)."""
    if session.get_bind().dialect.name == "postgresql":
        value = value.collate("C")
    return func.lower(value)


def _sort_columns(session: Session, sort: str) -> list[tuple[Any, bool, str]]:
    """(expression, descending, attribute) in order: the key, then created_at and id
    ascending, as a stable sort of the created_at order would leave ties."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        raise Invalid.field("sort", f"Sort by one of: {', '.join(SORTS)} (- for descending).")
    column: Any = getattr(Project, key)
    if key == "title":
        column = _title_key(session, column)
    out = [(column, descending, key)]
    if key in ("title", "updated_at"):
        out.append((Project.created_at, False, "created_at"))
    if key != "id":
        out.append((Project.id, False, "id"))
    return out


def _cursor(project: Project, columns: list[tuple[Any, bool, str]]) -> str:
    values = []
    for _, _, attr in columns:
        value = getattr(project, attr)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _after(
    session: Session, cursor: str, columns: list[tuple[Any, bool, str]], backwards: bool
) -> Any:
    """Rows beyond ``cursor`` in the list's order (before it when ``backwards``)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        typed: list[Any] = []
        for value, (_, _, attr) in zip(values, columns, strict=True):
            if not isinstance(value, str):
                raise ValueError
            typed.append(datetime.fromisoformat(value) if attr.endswith("_at") else value)
            if attr.endswith("_at") and typed[-1].tzinfo is None:
                raise ValueError
    except ValueError:
        raise Invalid.field("page", "Not a cursor from this list's links.") from None
    bound = [
        _title_key(session, literal(value, String())) if attr == "title" else value
        for value, (_, _, attr) in zip(typed, columns, strict=True)
    ]
    options = []
    for i, (column, descending, _) in enumerate(columns):
        beyond = column < bound[i] if descending != backwards else column > bound[i]
        options.append(and_(*(columns[j][0] == bound[j] for j in range(i)), beyond))
    return or_(*options)


def projects_page(
    session: Session,
    account: Account,
    size: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    before: str | None = None,
    sort: str = "created_at",
) -> ProjectPage:
    """A page of the projects ``account`` may see, in ``sort`` order, after (or before)
    a cursor from an earlier page's links: a constant number of statements."""
    columns = _sort_columns(session, sort)
    base = _member_query(account)
    # A member's count reads only its access rows' index (each is one project, and a
    # project's deletion cascades to them): no project row is visited.
    counted = (
        select(func.count()).select_from(base.subquery())
        if account.is_admin
        else select(func.count())
        .select_from(ProjectAccess)
        .where(ProjectAccess.account_id == account.id)
    )
    total = session.scalar(counted) or 0
    query = base
    backwards = before is not None
    if after is not None:
        query = query.where(_after(session, after, columns, backwards=False))
    if before is not None:
        query = query.where(_after(session, before, columns, backwards=True))
    order = [(c.desc() if descending != backwards else c.asc()) for c, descending, _ in columns]
    rows = list(session.scalars(query.order_by(*order).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    next_after = previous_before = None
    if rows:
        # Going forward, more rows mean a next page, and a cursor means pages before
        # it; going backwards, the other way round.
        if (more and not backwards) or before is not None:
            next_after = _cursor(rows[-1], columns)
        if (more and backwards) or after is not None:
            previous_before = _cursor(rows[0], columns)
    return ProjectPage(rows, total, next_after, previous_before)


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
