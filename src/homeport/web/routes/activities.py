"""Activities: lists with filters, one activity, cancel, and the live log stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from homeport.domain import activities as acts
from homeport.domain.errors import Forbidden, NotFound
from homeport.store.models import Activity
from homeport.web.deps import DbSession, State
from homeport.web.hal import activity_view
from homeport.web.log_streams import SlotStreamingResponse, wait_for_news
from homeport.web.project_deps import ProjectContext, ProjectCtx

router = APIRouter(tags=["Activity"])
PROJECT = "/projects/{project_id}/activities"
ENV = "/projects/{project_id}/environments/{environment_id}/activities"

Strings = Annotated[list[str] | None, Query()]
MAX_CURSOR = 2**53  # log cursors and counts: far beyond any log, safe in every database
MAX_DELAY_MS = 3_600_000


def _filter(
    type: list[str] | None,
    state: list[str] | None,
    result: list[str] | None,
    starts_at: str | None,
    count: int | None,
) -> acts.ActivityFilter:
    return acts.ActivityFilter(
        types=[t for raw in type or [] for t in raw.split(",") if t],
        states=[s for raw in state or [] for s in raw.split(",") if s],
        results=[r for raw in result or [] for r in raw.split(",") if r],
        starts_at=acts.parse_starts_at(starts_at) if starts_at else None,
        count=acts.DEFAULT_COUNT if count is None else count,
    )


def _views(ctx: ProjectContext, session: DbSession, rows: Any) -> list[dict[str, Any]]:
    can_cancel = ctx.cancel_rights(session, rows)  # one query for the whole page
    return [activity_view(a, can_cancel(a)) for a in rows]


@router.get(PROJECT)
def list_project_activities(
    ctx: ProjectCtx,
    session: DbSession,
    type: Strings = None,
    state: Strings = None,
    result: Strings = None,
    starts_at: str | None = None,
    count: int | None = None,
) -> list[dict[str, Any]]:
    """The project's activities, newest first (a plain array)."""
    flt = _filter(type, state, result, starts_at, count)
    rows = acts.list_activities(session, ctx.project.id, flt, ctx.activity_filter(session))
    return _views(ctx, session, rows)


@router.get(ENV)
def list_environment_activities(
    environment_id: str,
    ctx: ProjectCtx,
    session: DbSession,
    type: Strings = None,
    state: Strings = None,
    result: Strings = None,
    starts_at: str | None = None,
    count: int | None = None,
) -> list[dict[str, Any]]:
    """One environment's activities, newest first."""
    env = ctx.environment(session, environment_id)
    flt = _filter(type, state, result, starts_at, count)
    rows = acts.list_activities(session, ctx.project.id, flt, environment=env.name)
    return _views(ctx, session, rows)


@router.get(PROJECT + "/{activity_id}")
def get_project_activity(activity_id: str, ctx: ProjectCtx, session: DbSession) -> dict[str, Any]:
    """One activity."""
    activity = ctx.visible_activity(session, activity_id)
    return activity_view(activity, ctx.can_cancel(session, activity))


@router.get(ENV + "/{activity_id}")
def get_environment_activity(
    environment_id: str, activity_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """One activity, through its environment."""
    env = ctx.environment(session, environment_id)
    activity = ctx.visible_activity(session, activity_id)
    if env.name not in activity.environments:
        raise NotFound("Activity not found.")
    return activity_view(activity, ctx.can_cancel(session, activity))


def _cancel(ctx: ProjectContext, session: DbSession, activity_id: str) -> dict[str, Any]:
    activity = ctx.visible_activity(session, activity_id)
    if not ctx.can_cancel(session, activity):
        raise Forbidden("You may not cancel this activity.")
    acts.cancel(session, activity)
    return ctx.accepted(session, 200, None, [activity])


@router.post(PROJECT + "/{activity_id}/cancel")
def cancel_project_activity(
    activity_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Cancel a pending (or cancellable running) activity."""
    return _cancel(ctx, session, activity_id)


@router.post(ENV + "/{activity_id}/cancel")
def cancel_environment_activity(
    environment_id: str, activity_id: str, ctx: ProjectCtx, session: DbSession
) -> dict[str, Any]:
    """Cancel, through the environment."""
    ctx.environment(session, environment_id)
    return _cancel(ctx, session, activity_id)


@router.get(PROJECT + "/{activity_id}/log")
async def activity_log(
    activity_id: str,
    ctx: ProjectCtx,
    state: State,
    session: DbSession,
    start_at: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    max_items: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    max_delay: Annotated[int | None, Query(ge=-1, le=MAX_DELAY_MS)] = None,
) -> StreamingResponse:
    """Newline-delimited JSON log lines, live while the activity runs, then a seal.

    ``max_delay`` (milliseconds) ends the response, unsealed, once that long passes
    without a new line, so a client can poll in rounds; -1 or none waits to the end.
    """
    activity = ctx.visible_activity(session, activity_id)
    pk = activity.pk
    patience = max_delay / 1000 if max_delay and max_delay > 0 else None

    def poll(after: int) -> tuple[list[tuple[int, str, str]], bool]:
        with state.db.session() as s:
            row = s.get(Activity, pk)
            finished = row is None or row.state in ("complete", "cancelled")
            lines = [
                (line.seq, line.timestamp.isoformat(), line.message)
                for line in acts.log_lines(s, pk, after)
            ]
            return lines, finished

    async def stream() -> AsyncIterator[bytes]:
        cursor, sent = start_at, 0
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        async with state.log_watch.watch(pk) as news:
            while True:
                news.clear()  # before reading, so a change during the read is not lost
                lines, finished = await run_in_threadpool(poll, cursor)
                for seq, stamp, message in lines:
                    item = {"_id": str(seq), "data": {"timestamp": stamp, "message": message}}
                    yield (json.dumps(item) + "\n").encode()
                    cursor, sent = seq, sent + 1
                    if max_items and sent >= max_items:
                        return
                if finished and not lines:
                    yield (json.dumps({"_id": str(cursor + 1), "seal": True}) + "\n").encode()
                    return
                if lines:
                    quiet_since = loop.time()
                    continue
                if patience is None:
                    await wait_for_news(news)
                    continue
                left = patience - (loop.time() - quiet_since)
                if left <= 0:
                    return  # max_delay passed with nothing new: the client asks again
                await wait_for_news(news, left)

    release = state.log_slots.acquire(ctx.grants.account.id)
    return SlotStreamingResponse(stream(), release, media_type="application/x-json-stream")
