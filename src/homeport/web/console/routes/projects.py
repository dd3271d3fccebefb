"""Projects: the list, creation, the project page (environment tree and activity feed),
and activities with their live log."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain import policy, projects
from homeport.domain.errors import DomainError, Forbidden, Invalid
from homeport.git import repos
from homeport.settings import Settings
from homeport.store.models import Activity
from homeport.web.console.deps import ConsoleRoute, Me, ProjectPage, render, see_other
from homeport.web.console.present import activity_item, environment_tree
from homeport.web.console.views import when
from homeport.web.deps import DbSession, State
from homeport.web.hal import git_urls
from homeport.web.log_streams import SlotStreamingResponse, wait_for_news

router = APIRouter(route_class=ConsoleRoute)
PROJECT = "/projects/{project_id}"
FEED_COUNT = 30
# A log stream ends after this long even if the activity still runs; the page's script
# reconnects from the last line it saw. No connection stays open forever.
LOG_STREAM_SECONDS = 300


@router.get("/projects")
def project_list(request: Request, person: Me, session: DbSession, state: State) -> Response:
    """The person's projects (every project for platform admins)."""
    return _project_list(request, person, session, state)


def _project_list(
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    status: int = 200,
    error: DomainError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    listed = projects.projects_of(session, person.account)
    grants = policy.load_grants_many(session, person.account, listed)
    rows = [(p, "admin" if grants[p.id].is_project_admin else "viewer") for p in listed]
    return render(
        request,
        "console/projects/list.html",
        person,
        status=status,
        projects=rows,
        may_create=policy.may_create_project(person.account, state.settings.project_create),
        error=error,
        values=values or {"title": "", "default_branch": "main", "description": ""},
    )


@router.post("/projects")
def create_project(
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    title: Annotated[str, Form(max_length=1024)] = "",
    default_branch: Annotated[str, Form(max_length=256)] = "main",
    description: Annotated[str, Form(max_length=8192)] = "",
) -> Response:
    """Create a project (platform admins, or everyone when the server allows it)."""
    if not policy.may_create_project(person.account, state.settings.project_create):
        raise Forbidden("You may not create projects.")
    try:
        with session.begin_nested():
            project, _activity = projects.create_project(
                session,
                person.account,
                projects.NewProject(
                    title=title, default_branch=default_branch or "main", description=description
                ),
            )
    except DomainError as exc:
        values = {"title": title, "default_branch": default_branch, "description": description}
        return _project_list(request, person, session, state, exc.status, exc, values)
    repos.create_repo(state.settings.git_dir, project.id, project.default_branch)
    session.flush()
    envs.ensure_data_dirs(session, state.settings.environments_dir, project)
    return see_other(f"/console/projects/{project.id}?done=project-created")


def _count(request: Request) -> int:
    raw = request.query_params.get("count", "")
    if not raw:
        return FEED_COUNT
    if not raw.isdigit() or not 1 <= int(raw) <= acts.MAX_COUNT:
        raise Invalid.field("count", f"Between 1 and {acts.MAX_COUNT}.")
    return int(raw)


@router.get(PROJECT)
def project_page(
    request: Request, person: Me, ctx: ProjectPage, session: DbSession, state: State
) -> Response:
    """The environment tree, the clone URLs and the activity feed."""
    ssh_url, https_url = git_urls(ctx.project.id, ctx.base_url, ctx.ssh_port)
    clone_urls = [("Clone over SSH", ssh_url, "clone-ssh")] if ssh_url else []
    clone_urls.append(("Clone over HTTPS", https_url, "clone-https"))
    visible = [
        e
        for e in envs.list_environments(session, ctx.project)
        if ctx.grants.can_env("view", e.type)
    ]
    count = _count(request)
    rows = acts.list_activities(
        session, ctx.project.id, acts.ActivityFilter(count=count), ctx.activity_filter(session)
    )
    return render(
        request,
        "console/projects/show.html",
        person,
        ctx=ctx,
        tab="overview",
        clone_urls=clone_urls,
        host_key=host_key_fingerprint(state.settings) if ssh_url else None,
        tree=environment_tree(visible),
        activities=[activity_item(a) for a in rows],
        more=count + FEED_COUNT if len(rows) == count and count < acts.MAX_COUNT else None,
    )


@router.get(PROJECT + "/activities/{activity_id}")
def activity_page(
    activity_id: str, request: Request, person: Me, ctx: ProjectPage, session: DbSession
) -> Response:
    """One activity and its log (followed live by a small script while it runs)."""
    activity = ctx.visible_activity(session, activity_id)
    lines = acts.log_lines(session, activity.pk)
    return render(
        request,
        "console/projects/activity.html",
        person,
        ctx=ctx,
        tab="overview",
        activity=activity_item(activity),
        lines=lines,
        last_seq=lines[-1].seq if lines else 0,
        visible_envs={
            e.name
            for e in envs.list_environments(session, ctx.project)
            if ctx.grants.can_env("view", e.type)
        },
        can_cancel=ctx.can_cancel(session, activity) and acts.is_cancellable(activity),
    )


@router.post(PROJECT + "/activities/{activity_id}/cancel")
def cancel_activity(activity_id: str, ctx: ProjectPage, session: DbSession) -> Response:
    """Cancel a pending activity (or ask a running one that can stop to stop)."""
    activity = ctx.visible_activity(session, activity_id)
    if not ctx.can_cancel(session, activity):
        raise Forbidden("You may not cancel this activity.")
    acts.cancel(session, activity)
    return see_other(f"/console/projects/{ctx.project.id}/activities/{activity.id}?done=cancelled")


@router.get(PROJECT + "/activities/{activity_id}/log")
def activity_log(
    activity_id: str,
    ctx: ProjectPage,
    session: DbSession,
    state: State,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> StreamingResponse:
    """The log as newline-delimited JSON, live while the activity runs.

    Lines are ``{"seq", "timestamp", "message"}``; a ``{"state", "result", "percent",
    "completed_at"}`` line reports each change, and ``{"seal": true, ...}`` ends a
    finished log.
    """
    activity = ctx.visible_activity(session, activity_id)
    if after < 0:
        raise Invalid.field("after", "Must not be negative.")
    pk = activity.pk

    def poll(cursor: int) -> tuple[list[dict[str, object]], dict[str, object]]:
        with state.db.session() as s:
            row = s.get(Activity, pk)
            lines: list[dict[str, object]] = [
                {"seq": line.seq, "timestamp": line.timestamp.isoformat(), "message": line.message}
                for line in acts.log_lines(s, pk, cursor)
            ]
            if row is None:
                return lines, {"state": "cancelled", "result": None, "percent": 0}
            return lines, {
                "state": row.state,
                "result": row.result,
                "percent": row.completion_percent,
                "completed_at": when(row.completed_at) if row.completed_at else None,
            }

    async def stream() -> AsyncIterator[bytes]:
        cursor, last_status = after, None
        deadline = time.monotonic() + LOG_STREAM_SECONDS
        async with state.log_watch.watch(pk) as news:
            while True:
                news.clear()  # before reading, so a change during the read is not lost
                lines, status = await run_in_threadpool(poll, cursor)
                for line in lines:
                    yield (json.dumps(line) + "\n").encode()
                    cursor = int(str(line["seq"]))
                if status != last_status:
                    yield (json.dumps(status) + "\n").encode()
                    last_status = status
                if status["state"] in ("complete", "cancelled") and not lines:
                    yield (json.dumps({"seal": True, **status}) + "\n").encode()
                    return
                if time.monotonic() > deadline:
                    return
                if not lines:
                    await wait_for_news(news)

    # The console's streams share the account's cap with the API's.
    release = state.log_slots.acquire(ctx.grants.account.id)
    return SlotStreamingResponse(
        stream(),
        release,
        media_type="application/x-ndjson",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def host_key_fingerprint(settings: Settings) -> str | None:
    """The SSH host key's SHA256 fingerprint, from its public half, if the server has one."""
    for path in sorted(settings.ssh_dir.glob("*.pub")):
        fields = path.read_text(errors="replace").split()
        if len(fields) >= 2:
            with suppress(ValueError, binascii.Error):
                digest = hashlib.sha256(base64.b64decode(fields[1])).digest()
                return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    return None
