"""Every error leaves as Platform.sh's body, with Content-Type exactly application/json."""

from __future__ import annotations

import errno
import json
import logging
import re
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

from homeport.domain.errors import DomainError, TooManyAttempts

log = logging.getLogger("homeport.web")

_STATUS_TEXT = {400: "Invalid input"}


def error_response(
    code: int,
    message: str,
    detail: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Platform.sh error body; no charset, because the JS client checks the type exactly."""
    try:
        title = HTTPStatus(code).phrase
    except ValueError:
        title = "Error"
    body = {
        "status": _STATUS_TEXT.get(code, title),
        "message": message,
        "code": code,
        "detail": detail or {},
        "title": title,
    }
    return Response(
        json.dumps(body),
        status_code=code,
        media_type=None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# An error body names at most this many fields; a hostile body may fail a million times.
MAX_ERROR_FIELDS = 10


def _validation_detail(exc: RequestValidationError) -> tuple[str, dict[str, Any]]:
    detail: dict[str, Any] = {}
    errors = exc.errors()
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = (".".join(loc) or "body")[:200]
        if field not in detail and len(detail) >= MAX_ERROR_FIELDS:
            continue
        msg = str(err.get("msg", "Invalid value."))[:500]
        # Never echo the submitted value back: it may be a secret.
        messages = detail.setdefault(field, [])
        if len(messages) < 3:
            messages.append(msg)
    first = next(iter(detail.items()), ("body", ["Invalid input."]))
    if len(errors) > sum(len(m) for m in detail.values()):
        detail["_truncated"] = f"{len(errors)} errors in all; the first few are listed."
    return f"{first[0]}: {first[1][0]}", detail


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, HTTP errors, validation errors and crashes to error bodies."""

    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError) -> Response:
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, TooManyAttempts) or retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(exc.status, exc.message, exc.detail, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(req.scope)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
                message = f"{req.method} is not allowed here; use {_or(allowed)}."
        return error_response(exc.status_code, message, None, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> Response:
        message, detail = _validation_detail(exc)
        return error_response(400, message, detail)

    # Two writers raced for the same name (PostgreSQL lets both pass the check and
    # refuses the second at commit), or a row referred to one deleted meanwhile.
    @app.exception_handler(IntegrityError)
    async def _integrity(req: Request, exc: IntegrityError) -> Response:
        log.info("integrity conflict on %s %s", req.method, req.url.path)
        return error_response(409, integrity_message(exc))

    # Storage errors are answered here rather than by the catch-all below, which
    # Starlette re-raises after answering (so a full disk would log a traceback each time).
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _storage(req: Request, exc: Exception) -> Response:
        if is_disk_full(exc):
            log.error("out of disk space on %s %s", req.method, req.url.path)
            return _disk_full_response(req)
        log.exception("storage error on %s %s", req.method, req.url.path)
        return error_response(500, "Internal server error.")

    @app.exception_handler(Exception)
    async def _crash(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return error_response(500, "Internal server error.")


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route of this path accepts, in a fixed order.

    Starlette answers 405 from the first route whose path matched, so its ``Allow``
    names that route's methods only (``GET`` for ``/projects/{id}``, which also takes
    ``PATCH`` and ``DELETE`` on routes of their own).
    """
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return []
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    path = path[len(root) :] if root and path.startswith(root) else path
    methods: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        if route.methods and route.path and _path_regex(route.path).match(path):
            methods |= route.methods
    rank = {m: i for i, m in enumerate(_METHOD_ORDER)}
    return sorted(methods, key=lambda m: (rank.get(m, len(rank)), m))


@lru_cache(maxsize=1024)
def _path_regex(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


DISK_FULL = "The server is out of disk space; nothing was changed. Try again later."


def integrity_message(exc: IntegrityError) -> str:
    """The conflict, said without the SQL (which names tables and values)."""
    text = str(exc.orig).lower()
    if "foreign key" in text:
        return "It refers to something that was changed or removed meanwhile; try again."
    return "It already exists (another request created it at the same time)."


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the disk or the database is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        # SQLite's SQLITE_FULL (13), PostgreSQL's disk_full (53100).
        if getattr(current, "sqlite_errorcode", None) == 13:
            return True
        if getattr(current, "pgcode", None) == "53100":
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def _disk_full_response(req: Request) -> Response:
    if req.url.path.startswith("/oauth2/"):
        # The token endpoint keeps OAuth's error shape (RFC 6749 section 5.2).
        body = {"error": "temporarily_unavailable", "error_description": DISK_FULL}
        return Response(
            json.dumps(body),
            status_code=503,
            media_type=None,
            headers={"Content-Type": "application/json", "Retry-After": "60"},
        )
    return error_response(507, DISK_FULL, headers={"Retry-After": "60"})
