"""Unknown console addresses get a page, not the API's JSON error."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from homeport.domain.errors import NotFound
from homeport.web.console.deps import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)


@router.get("/{rest:path}")
def not_found(rest: str) -> Response:
    """Every other GET under /console."""
    raise NotFound("There is no such page.")
