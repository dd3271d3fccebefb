"""The web console: server-rendered pages under ``/console/`` for people.

It calls the same domain functions and asks the same policy as the API; only the way
people authenticate differs (a password and a signed session cookie, not bearer tokens).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from homeport.domain.secrets import ServerSecrets
from homeport.web.console.deps import ConsoleState
from homeport.web.console.sessions import SessionCodec
from homeport.web.console.views import STATIC_DIR, STATIC_URL, make_templates
from homeport.web.state import AppState


def install_console(app: FastAPI) -> None:
    """Add the console to ``app``: its pages, static files and ``/`` redirect (its
    security headers come from ``web/edge.py``).

    Call it after ``app.state.homeport`` is set (the session key derives from the
    server secret in the settings' secrets dir).
    """
    from homeport.web.console.routes import console_router, root_router

    state: AppState = app.state.homeport
    key = ServerSecrets(state.settings.secrets_dir).derive("console-session")
    app.state.console = ConsoleState(codec=SessionCodec(key), templates=make_templates())
    # Static files first: the console's catch-all 404 page must not shadow them.
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(root_router)
    app.include_router(console_router)
