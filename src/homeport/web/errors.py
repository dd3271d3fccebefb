"""Every error leaves as Platform.sh's body, with Content-Type exactly application/json."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

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


def _validation_detail(exc: RequestValidationError) -> tuple[str, dict[str, list[str]]]:
    detail: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        msg = str(err.get("msg", "Invalid value."))
        # Never echo the submitted value back: it may be a secret.
        detail.setdefault(field, []).append(msg)
    first = next(iter(detail.items()), ("body", ["Invalid input."]))
    return f"{first[0]}: {first[1][0]}", detail


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, HTTP errors, validation errors and crashes to error bodies."""

    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError) -> Response:
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(exc.status, exc.message, exc.detail, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        return error_response(exc.status_code, message, None, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> Response:
        message, detail = _validation_detail(exc)
        return error_response(400, message, detail)

    @app.exception_handler(Exception)
    async def _crash(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return error_response(500, "Internal server error.")
