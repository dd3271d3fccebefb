"""The ASGI application: one base URL for the API, /oauth2, and later /console and /git."""

from __future__ import annotations

from fastapi import FastAPI

from homeport import __version__
from homeport.settings import Settings
from homeport.web import cli_installer
from homeport.web.api_docs import install_api_docs
from homeport.web.console import install_console
from homeport.web.edge import EdgeMiddleware
from homeport.web.errors import install_error_handlers
from homeport.web.git_http import GitHttp
from homeport.web.metrics import install_metrics
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
    # The two hottest calls, as plain routes matched before any other (see each one).
    app.router.routes.extend((users.hot_route, oauth2.hot_route))
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
    install_metrics(app, app.state.homeport.db, settings.metrics_token)
    # Outermost: the request id of log lines and X-Request-Id, the console's security
    # headers, the HTTP metrics, and bodies bounded and characters no store can keep
    # refused before any route, form parser or handler reads them (docs/operations.md).
    app.add_middleware(EdgeMiddleware, limit=settings.max_body_bytes, exempt_prefixes=("/git/",))
    return app
