"""The ASGI application: one base URL for the API, /oauth2, and later /console and /git."""

from __future__ import annotations

from fastapi import FastAPI

from homeport import __version__
from homeport.settings import Settings
from homeport.web import cli_installer
from homeport.web.api_docs import install_api_docs
from homeport.web.body_limit import BodyLimitMiddleware
from homeport.web.console import install_console
from homeport.web.errors import install_error_handlers
from homeport.web.git_http import GitHttp
from homeport.web.input_guard import InputGuardMiddleware
from homeport.web.metrics import install_metrics
from homeport.web.request_id import RequestIdMiddleware
from homeport.web.routes import (
    access,
    activities,
    backups,
    crons,
    deployments,
    environments,
    health,
    legacy,
    oauth2,
    projects,
    ssh_keys,
    users,
    variables,
)
from homeport.web.state import AppState


def create_app(settings: Settings, state: AppState | None = None) -> FastAPI:
    """Build the app for ``settings``; the database must already be migrated."""
    app = FastAPI(
        title="Homeport API",
        version=__version__,
        description="A self-hosted server that speaks the Platform.sh REST API.",
        openapi_url="/openapi.json",
        docs_url=None,  # served offline by install_api_docs
        redoc_url=None,
        # Operators scrape our own /metrics (web/metrics.py); FastAPI's OpenTelemetry
        # hooks would only look for providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.homeport = state or AppState.build(settings)
    install_error_handlers(app)
    app.include_router(users.hot_router)  # GET /users/me: matched before any other route
    for module in (
        health,
        oauth2,
        legacy,  # before users: /users/email={email} must not match /users/{id}
        users,
        ssh_keys,
        projects,
        environments,
        access,
        activities,
        variables,
        backups,
        deployments,
        crons,
    ):
        app.include_router(module.router)
    # The CLI installer and the client it installs (public, like the client's code).
    app.include_router(cli_installer.make_router(settings.public_url or None))
    # The web console: its pages, static files and security headers, and "/" -> /console/.
    install_api_docs(app, "/openapi.json")
    install_console(app)
    # Git's smart HTTP, served by git itself; its bodies are packs, bounded by git.
    app.mount("/git", GitHttp(app.state.homeport))
    # Characters no store can keep are refused before any route sees them.
    app.add_middleware(InputGuardMiddleware, exempt_prefixes=("/git/",))
    # Outermost: bodies are bounded before any route, form parser or handler reads them.
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_body_bytes, exempt_prefixes=("/git/",)
    )
    # Operations (docs/operations.md), around even that (they read no body): the HTTP
    # metrics and /metrics, and outermost the request id of log lines and X-Request-Id.
    install_metrics(app, app.state.homeport.db, settings.metrics_token)
    app.add_middleware(RequestIdMiddleware)
    return app
