"""What runs on an environment: `deployments/current`, its routes, and its logs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from homeport.domain.errors import Forbidden, Invalid, NotFound
from homeport.domain.policy import env_refusal
from homeport.runtime.document import (
    SUBSCRIPTION,
    WEBAPP_FIELDS,
    WORKER_FIELDS,
    api_route,
    fill,
)
from homeport.runtime.logs import LOG_TYPES, log_file, tail
from homeport.store.models import Deployment, Environment
from homeport.web.deps import DbSession, State
from homeport.web.hal import ssh_access
from homeport.web.log_streams import SlotStreamingResponse
from homeport.web.project_deps import ProjectCtx

router = APIRouter(tags=["Deployment"])
ENV = "/projects/{project_id}/environments/{environment_id}"
MAX_LOG_LINES = 10_000


def current_document(session: DbSession, env: Environment) -> dict[str, Any] | None:
    """The environment's current deployment document, if it has one."""
    if env.status != "active":
        return None
    row = session.scalar(select(Deployment).where(Deployment.environment_pk == env.pk))
    return dict(row.document) if row is not None else None


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    """A stored deployment document as the API shows it: apps, workers and routes with
    exactly the description's fields (those a document written by an older Homeport, or
    by a test, lacks get their defaults; fields it no longer shows are left out)."""
    out = dict(document)
    out["subscription"] = {**SUBSCRIPTION, **(document.get("subscription") or {})}
    out["webapps"] = {
        name: fill(app, WEBAPP_FIELDS) for name, app in (document.get("webapps") or {}).items()
    }
    out["workers"] = {
        name: fill(worker, WORKER_FIELDS)
        for name, worker in (document.get("workers") or {}).items()
    }
    out["routes"] = {url: api_route(r) for url, r in (document.get("routes") or {}).items()}
    return out


def _linked(session: DbSession, ctx: ProjectCtx, env: Environment) -> dict[str, Any] | None:
    """The current deployment as the API shows it, with its `self` link, or None."""
    document = current_document(session, env)
    if document is None:
        return None
    shown = public_document(document)
    base = f"/projects/{ctx.project.id}/environments/{env.name}/deployments/current"
    shown["_links"] = {"self": {"href": f"{ctx.base_url}{base}"}}
    return shown


@router.get(ENV + "/deployments/current")
def get_current_deployment(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """The deployment running now (404 on an inactive or never deployed environment)."""
    document = _linked(session, ctx, ctx.environment(session, environment_id))
    if document is None:
        raise NotFound("Current deployment not found.")
    return document


@router.get(ENV + "/deployments")
def list_deployments(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> list[dict[str, Any]]:
    """Platform.sh only exposes `current`: a one-item list, or an empty one."""
    document = _linked(session, ctx, ctx.environment(session, environment_id))
    return [] if document is None else [document]


@router.get(ENV + "/routes")
def list_routes(environment_id: str, ctx: ProjectCtx, session: DbSession) -> list[dict[str, Any]]:
    """The routes served for the environment, as in the deployment's `routes` (the
    served URL is that mapping's key, not a field here); a route without an `id` of
    its own is known by its `original_url`."""
    env = ctx.environment(session, environment_id)
    document = current_document(session, env) or {}
    return [
        {**route, "id": route.get("id") or route.get("original_url")}
        for route in public_document(document)["routes"].values()
    ]


@router.get(ENV + "/logs/{log_type}", response_model=None)
def read_log(
    environment_id: str,
    log_type: str,
    ctx: ProjectCtx,
    session: DbSession,
    state: State,
    app: str | None = Query(default=None, max_length=64),
    lines: int = Query(default=100, ge=1, le=MAX_LOG_LINES),
    follow: bool = False,
) -> PlainTextResponse | SlotStreamingResponse:
    """A Homeport extension: the tail of an app's log (what `platform log` reads over
    SSH on Platform.sh), streamed on with ``follow``. Needs the `ssh` right."""
    env = ctx.environment(session, environment_id)
    if log_type not in LOG_TYPES:
        raise Invalid(f"Unknown log type: {log_type}. Available: {', '.join(LOG_TYPES)}")
    if app is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*(--[a-z0-9-]+)?", app):
        raise Invalid("Invalid app name.")
    document = current_document(session, env)
    if document is None:
        raise NotFound("Current deployment not found.")
    apps = sorted(document.get("webapps", {}))
    if app is not None and app.partition("--")[0] not in apps:
        raise NotFound(f"Application not found: {app}")
    # What a shell on the app could read: the same right, with the app's `access.ssh`.
    needs = ssh_access(document)
    app_name = app.partition("--")[0] if app else (apps[0] if apps else "")
    if not ctx.grants.can_ssh(env.type, needs.get(app_name)):
        raise Forbidden(env_refusal("ssh", env.type, needs.get(app_name) or "contributor"))
    path = log_file(state.settings.runtime_dir, ctx.project.id, env.machine_name, log_type, app)
    text = tail(path, lines)
    if not follow:
        return PlainTextResponse(text)

    async def stream() -> AsyncIterator[bytes]:
        yield text.encode()
        position = path.stat().st_size if path.is_file() else 0
        while True:
            await asyncio.sleep(0.5)
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < position:  # rotated
                position = 0
            if size > position:
                with open(path, "rb") as fh:
                    fh.seek(position)
                    chunk = fh.read(size - position)
                position = size
                yield chunk

    # A followed log holds one of the account's stream slots, like activity logs.
    release = state.log_slots.acquire(ctx.grants.account.id)
    return SlotStreamingResponse(stream(), release, media_type="text/plain; charset=utf-8")
