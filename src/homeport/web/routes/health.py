"""``GET /health``: answers without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from homeport import __version__
from homeport.web.deps import State

router = APIRouter(tags=["Health"])


@router.get("/health")
async def health(state: State) -> dict[str, str]:
    """``ok`` when the database answers.

    Answered on the event loop for SQLite (a WAL read never waits for writers), so a
    thread pool busy with other requests cannot make the server look dead.
    """

    def check() -> None:
        with state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    if state.db.is_sqlite:
        check()
    else:
        await run_in_threadpool(check)
    return {"status": "ok", "version": __version__}
