"""Projects: ``/projects`` and ``/projects/{id}``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import Field, field_validator

from homeport.domain import backups, policy, projects
from homeport.domain import environments as envs
from homeport.domain.errors import Forbidden, Invalid
from homeport.domain.policy import load_grants
from homeport.git import repos
from homeport.web.deps import CurrentActor, DbSession, State
from homeport.web.hal import accepted, link, project_view
from homeport.web.project_deps import ProjectCtx, base_url
from homeport.web.schemas import PageSize, Strict
from homeport.web.state import AppState

router = APIRouter(tags=["Project"])


class ProjectCreate(Strict):
    """``POST /projects`` (a Homeport extension; Platform.sh creates via subscriptions)."""

    title: str = Field(max_length=256)
    default_branch: str = Field(default="main", max_length=64)
    region: str = Field(default="local", max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    description: str = Field(default="", max_length=4096)


class ProjectPatch(Strict):
    """``PATCH /projects/{id}``: every field of the description's ``ProjectPatch``.

    Fields are typed as the description types them, so ``default_domain: 1.8e308`` is a
    400. ``attributes``, ``region`` and ``default_domain`` are checked, then ignored:
    Homeport keeps no attributes or domains and cannot move a project.
    """

    attributes: dict[str, str] | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    timezone: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    default_branch: str | None = Field(default=None, max_length=64)
    default_domain: str | None = Field(default=None, max_length=253)

    @field_validator("attributes", "title", "description", "timezone", "region", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Absent means unchanged; an explicit null is not a value these fields take."""
        if value is None:
            raise ValueError("This field may not be null.")
        return value


@router.post("/projects", status_code=201)
def create_project(
    body: ProjectCreate, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> dict[str, Any]:
    """Create a project; the creator becomes its owner and a project admin."""
    if not policy.may_create_project(actor.account, state.settings.project_create):
        raise Forbidden("You may not create projects.")
    project, activity = projects.create_project(
        session,
        actor.account,
        projects.NewProject(
            title=body.title,
            default_branch=body.default_branch,
            region=body.region,
            timezone=body.timezone,
            description=body.description,
        ),
    )
    # The repository exists before anyone hears of the project.
    repos.create_repo(state.settings.git_dir, project.id, project.default_branch)
    session.flush()
    envs.ensure_data_dirs(session, state.settings.environments_dir, project)
    grants = load_grants(session, actor.account, project)
    view = project_view(project, grants, base_url(request, state), _ssh_port(state))
    return accepted(201, view, [activity])


@router.get("/projects")
def list_projects(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    page_size: PageSize = None,
    page_after: str | None = Query(default=None, alias="page[after]", max_length=2048),
    page_before: str | None = Query(default=None, alias="page[before]", max_length=2048),
    sort: str = Query(default="created_at", max_length=16),
) -> dict[str, Any]:
    """The caller's projects (an extension; Platform.sh lists them through ``/me`` and
    organizations), a page at a time as the spec's organization project lists:
    ``{count, items, _links: {self, next?, previous?}}``, ``page[size]`` 1-200
    (default 100), cursors in the links. Roles on the whole page are read at once."""
    if page_after is not None and page_before is not None:
        raise Invalid.field("page", "Give page[after] or page[before], not both.")
    size = page_size or projects.DEFAULT_PAGE_SIZE
    page = projects.projects_page(
        session, actor.account, size=size, after=page_after, before=page_before, sort=sort
    )
    url = base_url(request, state)
    grants = policy.load_grants_many(session, actor.account, page.projects)
    items = [project_view(p, grants[p.id], url, _ssh_port(state)) for p in page.projects]

    def page_link(**cursor: str) -> dict[str, str]:
        query = {"page[size]": str(size), **({"sort": sort} if sort != "created_at" else {})}
        return link(f"/projects?{urlencode({**query, **cursor}, safe='[]')}")

    links: dict[str, Any] = {"self": page_link(**_given(page_after, page_before))}
    if page.next_after is not None:
        links["next"] = page_link(**{"page[after]": page.next_after})
    if page.previous_before is not None:
        links["previous"] = page_link(**{"page[before]": page.previous_before})
    return {"count": page.total, "items": items, "_links": links}


def _given(after: str | None, before: str | None) -> dict[str, str]:
    if after is not None:
        return {"page[after]": after}
    return {"page[before]": before} if before is not None else {}


@router.get("/projects/{project_id}")
def get_project(ctx: ProjectCtx) -> dict[str, Any]:
    """One project."""
    return project_view(ctx.project, ctx.grants, ctx.base_url, ctx.ssh_port)


@router.patch("/projects/{project_id}")
def patch_project(body: ProjectPatch, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """Change the title, description or time zone."""
    ctx.require("edit")
    recorded = projects.update_project(
        session,
        ctx.grants.account,
        ctx.project,
        title=body.title,
        description=body.description,
        timezone=body.timezone,
        default_branch=body.default_branch,
    )
    view = project_view(ctx.project, ctx.grants, ctx.base_url, ctx.ssh_port)
    return ctx.accepted(session, 200, view, recorded)


@router.delete("/projects/{project_id}")
def delete_project(ctx: ProjectCtx, session: DbSession, state: State) -> dict[str, Any]:
    """Delete the project and everything in it (owner or platform admin)."""
    ctx.require("delete")
    projects.delete_project(session, ctx.project, state.settings.environments_dir)
    backups.delete_project_backups(ctx.project.id, state.blobs)
    repos.delete_repo(state.settings.git_dir, ctx.project.id)
    return ctx.accepted(session, 200, None, [])


def _ssh_port(state: AppState) -> int | None:
    ssh = state.settings.ssh_bind
    return ssh[1] if ssh else None
