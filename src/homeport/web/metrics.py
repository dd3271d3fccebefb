"""``/metrics`` in Prometheus' text format, and the HTTP metrics behind it.

HTTP requests are counted by route template (``/projects/{project_id}``, never the raw
path), method and status by the outer layer (``web/edge.py``). The queue of pending
activities and the database pool are read when Prometheus scrapes, by one query. Who may read: see
``metrics_access`` and docs/operations.md. Labels hold templates, types and states only:
never ids, emails, tokens or paths.
"""

from __future__ import annotations

import gc
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

from homeport.store.db import Database
from homeport.store.models import Activity
from homeport.store.types import utcnow
from homeport.web.errors import error_response

log = logging.getLogger("homeport.web.metrics")

# No `*_created` series (one timestamp per label set): Prometheus does not need them.
disable_created_metrics()  # type: ignore[no-untyped-call]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Every path no route matched (404s, bodies refused before routing) shares one label.
UNMATCHED = "other"

HTTP_REQUESTS = Counter(
    "homeport_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
HTTP_SECONDS = Histogram(
    "homeport_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by route template, "
    "method and status.",
    ("route", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKEN_EXCHANGES = Counter(
    "homeport_token_exchanges",
    "POST /oauth2/token calls, by grant type and outcome (success or the OAuth2 error).",
    ("grant_type", "outcome"),
)
GRANT_TYPES = frozenset({"api_token", "password"})


def token_exchange(grant: str, outcome: str) -> None:
    """Count one token request (unknown grant types share the label ``other``)."""
    TOKEN_EXCHANGES.labels(grant if grant in GRANT_TYPES else "other", outcome).inc()


def route_template(scope: Scope) -> str:
    """The matched route's path template, ``<mount>/{path}`` under a mounted app (git,
    static files), or ``other``."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    # The router names no route for a mounted app: find the mount by its prefix.
    app, request_path = scope.get("app"), str(scope.get("path", ""))
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        prefix = candidate.path if isinstance(candidate, Mount) else ""
        if prefix and (request_path == prefix or request_path.startswith(prefix + "/")):
            return f"{prefix}/{{path}}"
    return UNMATCHED


def record(scope: Scope, status: int, seconds: float) -> None:
    """Count and time one answered HTTP request (called by ``web/edge.py``)."""
    method = scope["method"]
    counter, histogram = _children(
        (route_template(scope), method if method in METHODS else "other", str(status))
    )
    counter.inc()
    histogram.observe(seconds)


# Label sets are bounded (route templates x methods x statuses), so each one's counter
# and histogram are looked up once rather than through ``labels()`` on every request.
_CHILDREN: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _children(labels: tuple[str, str, str]) -> tuple[Any, Any]:
    found = _CHILDREN.get(labels)
    if found is None:
        found = _CHILDREN[labels] = (
            HTTP_REQUESTS.labels(*labels),
            HTTP_SECONDS.labels(*labels),
        )
    return found


class NamedRoute(Route):
    """A plain Starlette route that behaves as FastAPI's do where a caller can tell:
    it accepts only the methods given (Starlette would add HEAD to GET, and a 405's
    ``Allow`` would differ from every other route's), and it names itself in the scope,
    so its requests are labelled by its template rather than ``other``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.methods = {method.upper() for method in methods}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


class DatabaseCollector(Collector):
    """Read at scrape time: the activity queue (one query) and the connection pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield from self._pool()

    def _queue(self) -> Iterable[Metric]:
        try:
            with self.db.engine.connect() as conn:
                rows = conn.execute(
                    select(Activity.state, func.count(), func.min(Activity.created_at))
                    .where(Activity.state.in_(("pending", "in_progress")))
                    .group_by(Activity.state)
                ).all()
        except Exception:  # a scrape must not fail with the database
            log.warning("metrics: could not read the activity queue", exc_info=True)
            return []
        by_state = {str(state): (int(count), oldest) for state, count, oldest in rows}
        pending, oldest = by_state.get("pending", (0, None))
        age = 0.0
        if isinstance(oldest, datetime):
            age = max((utcnow() - oldest).total_seconds(), 0.0)
        return [
            GaugeMetricFamily(
                "homeport_activities_pending",
                "Activities waiting for a worker (the worker queue depth).",
                value=pending,
            ),
            GaugeMetricFamily(
                "homeport_activities_oldest_pending_age_seconds",
                "Age of the oldest pending activity (0 when none waits).",
                value=age,
            ),
            GaugeMetricFamily(
                "homeport_activities_in_progress",
                "Activities a worker is running now.",
                value=by_state.get("in_progress", (0, None))[0],
            ),
        ]

    def _pool(self) -> Iterable[Metric]:
        pool = self.db.engine.pool
        found: list[Metric] = []
        for name, doc, attr in (
            ("homeport_db_pool_checked_out", "Database connections in use.", "checkedout"),
            ("homeport_db_pool_size", "Database connections the pool keeps.", "size"),
        ):
            read = getattr(pool, attr, None)
            if callable(read):
                try:
                    found.append(GaugeMetricFamily(name, doc, value=float(read())))
                except (TypeError, ValueError):
                    continue
        return found


class _Scrape(Collector):
    """The process-wide registry plus this app's database collector, in one answer."""

    def __init__(self, db: DatabaseCollector) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self.db.collect()
        yield GaugeMetricFamily(
            "homeport_gc_frozen_objects",
            "Objects made at start-up and hidden from the garbage collector (homeport.heap).",
            value=gc.get_freeze_count(),
        )


def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address((host or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


# Set by a reverse proxy: the peer is then the proxy, not the caller.
_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def metrics_access(request: Request, token: str) -> Response | None:
    """None if the caller may read /metrics, else the error answer.

    With ``HOMEPORT_METRICS_TOKEN`` set, every caller must send it as a bearer token
    (401 otherwise). Unset, only direct loopback callers may read (403 otherwise); a
    request a proxy forwarded counts as remote, since the proxy's own address is loopback.
    """
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return error_response(
            401,
            "The metrics token is required: send Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    forwarded = any(h in request.headers for h in _FORWARDED)
    if not forwarded and _is_loopback(request.client.host if request.client else None):
        return None
    return error_response(
        403,
        "Metrics are served to loopback callers only; set HOMEPORT_METRICS_TOKEN "
        "to read them from elsewhere.",
    )


def install_metrics(app: FastAPI, db: Database, token: str) -> None:
    """Add ``GET /metrics`` to ``app`` (the HTTP metrics are recorded by ``web/edge.py``)."""
    scrape = _Scrape(DatabaseCollector(db))

    async def metrics(request: Request) -> Response:
        denied = metrics_access(request, token)
        if denied is not None:
            return denied
        body = await run_in_threadpool(generate_latest, scrape)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False, name="metrics")
