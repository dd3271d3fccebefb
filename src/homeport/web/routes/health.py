"""``GET /health``: answers without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from homeport import __version__
from homeport.web.deps import State

router = APIRouter(tags=["Health"])


@router.get("/health")
def health(state: State) -> dict[str, str]:
    """``ok`` when the database answers."""
    with state.db.session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
