"""Log lines as text (the default) or one JSON object per line (``HOMEPORT_LOG_FORMAT=json``).

Each line may carry what is known of the work in hand: ``request_id`` (set per HTTP
request by the web layer), ``account_id`` (set where the caller is authenticated) and
``activity_id`` (set by the worker while a handler runs). They live in a context
variable holding one small dict per request or activity, so a value bound in a thread
the request handed work to is seen by the request's later lines too.

Only ids travel here: never headers, tokens, passwords or SQL parameters.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The fields a line may carry besides time, level, logger and message.
CONTEXT_FIELDS = ("request_id", "account_id", "activity_id")

_context: ContextVar[dict[str, str] | None] = ContextVar("homeport_log_context", default=None)


@contextmanager
def log_context(**values: str) -> Iterator[dict[str, str]]:
    """A fresh context (one request, one activity) for the lines logged inside."""
    fields = {k: v for k, v in values.items() if k in CONTEXT_FIELDS}
    token = _context.set(fields)
    try:
        yield fields
    finally:
        _context.reset(token)


def enter_request(request_id: str) -> Token[dict[str, str] | None]:
    """``log_context(request_id=...)`` without the generator, for the request path:
    a fresh context holding ``request_id``; pass the token to :func:`leave`."""
    return _context.set({"request_id": request_id})


def leave(token: Token[dict[str, str] | None]) -> None:
    """End a context started by :func:`enter_request`."""
    _context.reset(token)


def bind(**values: str | None) -> None:
    """Add ids to the current context (no-op for unknown fields and None values)."""
    fields = _context.get()
    if fields is None:
        fields = {}
        _context.set(fields)
    for key, value in values.items():
        if key in CONTEXT_FIELDS and value is not None:
            fields[key] = value


def current() -> dict[str, str]:
    """A copy of the ids known here."""
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Puts the context's ids on each record (as attributes) that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the known ids."""

    def format(self, record: logging.LogRecord) -> str:
        access = _access_fields(record)
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": access.pop("message", None) or record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is None:
                value = (_context.get() or {}).get(key)
            if value is not None:
                body[key] = str(value)
        body.update(access)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            body["exception"] = record.exc_text
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """uvicorn's access record ``(client, method, path, http_version, status)`` as fields
    and a message, the path without its query string."""
    args = record.args
    if record.name != "uvicorn.access" or not isinstance(args, tuple) or len(args) != 5:
        return {}
    client, method, path, version, status = args
    path = str(path).partition("?")[0]
    try:
        message = str(record.msg) % (client, method, path, version, status)
    except (TypeError, ValueError):
        message = ""
    return {
        "message": message,
        "http_method": str(method),
        "http_path": path,
        "http_status": status,
    }


def make_handler(fmt: str, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) writing ``fmt`` lines with the context ids."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def log_format_from(raw: str | None) -> str:
    """``text`` or ``json`` from ``HOMEPORT_LOG_FORMAT`` (anything else: ``text``; the
    settings refuse a wrong value with a clear message)."""
    value = (raw or "text").strip().lower()
    return value if value in LOG_FORMATS else "text"


def setup_logging(level: int, fmt: str | None = None) -> None:
    """Configure the root logger once, like ``logging.basicConfig``, in ``fmt`` (default:
    ``HOMEPORT_LOG_FORMAT``, read here because logging starts before the settings)."""
    if fmt is None:
        fmt = log_format_from(os.environ.get("HOMEPORT_LOG_FORMAT"))
    logging.basicConfig(level=level, handlers=[make_handler(fmt)])
