"""Rendering console pages: the Jinja2 environment, filters and the response helper."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse, Response

from homeport.settings import Settings
from homeport.web.console.sessions import COOKIE_NAME, COOKIE_PATH, LIFETIME_SECONDS

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static" / "console"
STATIC_URL = "/console/static"
# Pages show what only this person may see, and one shows a token once: never cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Messages shown after a redirect (``?done=key``): fixed texts, so nothing a link
# carries is ever echoed into a page.
NOTICES: Mapping[str, str] = {
    "signed-out": "You are signed out.",
    "token-deleted": "The API token was deleted. It no longer works.",
    "key-added": "The SSH key was added.",
    "key-deleted": "The SSH key was removed.",
    "project-created": "The project was created.",
    "variable-created": "The variable was created.",
    "variable-updated": "The variable was saved.",
    "variable-deleted": "The variable was deleted.",
    "invited": "The invitation was sent. An existing account gets access at once.",
    "invitation-cancelled": "The invitation was cancelled.",
    "machine-user-created": "The machine user was created. Create its API token from its row.",
    "roles-updated": "The roles were updated.",
    "user-removed": "The user no longer has access to the project.",
    "account-created": "The account was created.",
    "account-deactivated": "The account was deactivated; its tokens stopped working.",
    "backup-deleted": "The backup was deleted.",
    "cancelled": "The activity was cancelled (or asked to stop).",
}


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    # A content hash in the URL lets browsers cache static files without going stale.
    try:
        return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(name: str) -> str:
    """The URL of a console static file, with a cache-busting version."""
    return f"{STATIC_URL}/{name}?v={_static_version(name)}"


def when(value: datetime | None) -> str:
    """A timestamp as people read it (UTC, to the second)."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    """A timestamp for ``<time datetime=...>``."""
    return "" if value is None else value.isoformat()


def size(nbytes: int | None) -> str:
    """A byte count in binary units."""
    value = float(nbytes or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover (the loop returns)


@lru_cache(maxsize=1)
def make_templates() -> jinja2.Environment:
    """The console's Jinja2 environment: autoescaped, strict about undefined names.

    One per process: it holds nothing but compiled templates (the files shipped with the
    package), and compiling them again for every app would cost each test ~0.1 s.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["size"] = size
    env.filters["urlpart"] = lambda value: quote(str(value), safe="")
    env.globals["static"] = static_url
    return env


def is_https(request: Request, settings: Settings) -> bool:
    """Whether the browser reached us over https (directly or per HOMEPORT_PUBLIC_URL)."""
    return request.url.scheme == "https" or settings.public_url.startswith("https://")


def set_session_cookie(
    response: Response, request: Request, settings: Settings, value: str
) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=LIFETIME_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
    )


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    """Remove the session cookie (log out)."""
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
    )


def html_page(
    templates: jinja2.Environment,
    name: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` into a response that no cache keeps."""
    body = templates.get_template(name).render(**context)
    return HTMLResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def notice_for(request: Request) -> str | None:
    """The fixed message named by ``?done=``, if any."""
    return NOTICES.get(request.query_params.get("done", ""))
