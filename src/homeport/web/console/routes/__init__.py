"""The console's routers, assembled in matching order (the catch-all 404 comes last)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse

from homeport.web.console.deps import ConsoleRoute
from homeport.web.console.routes import (
    access,
    accounts,
    auth,
    environments,
    fallback,
    projects,
    user,
    variables,
)

root_router = APIRouter(include_in_schema=False)


@root_router.get("/")
def root() -> RedirectResponse:
    """People who open the server's address land in the console."""
    return RedirectResponse("/console/", status_code=302)


console_router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
for _module in (auth, user, accounts, projects, environments, variables, access, fallback):
    console_router.include_router(_module.router)
