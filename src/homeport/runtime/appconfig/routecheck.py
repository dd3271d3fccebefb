"""Validation of `.platform/routes.yaml` (platform-deploy.md §5.1).

The templates are kept as written; `routes.expand_routes` turns them into URLs
once the environment's host is known.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from homeport.runtime.appconfig.context import Ctx, Path
from homeport.runtime.appconfig.model import ROUTE_TYPES

TEMPLATE = re.compile(r"^(https?)://([^/\s?#]+)(/[^\s#]*)?$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS = ("default", "all")
# A host once its placeholders are filled in: a name (possibly `*.` wildcard) and port.
HOST = re.compile(r"^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$")
ROUTE_KEYS = frozenset(
    {
        "type",
        "upstream",
        "to",
        "id",
        "primary",
        "attributes",
        "cache",
        "ssi",
        "redirects",
        "tls",
        "sticky",
    }
)
CACHE_KEYS = frozenset({"enabled", "default_ttl", "cookies", "headers"})


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a route URL template, or None if it is one."""
    match = TEMPLATE.match(template)
    if match is None:
        return "expected a URL template such as https://{default}/"
    for name in PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}} (only {{default}} and {{all}})"
    host = PLACEHOLDER.sub("example.com", match.group(2))
    if not HOST.match(host):
        return f"invalid host {match.group(2)!r}"
    return None


def _string_list(ctx: Ctx, value: Any, at: Path) -> None:
    if value is not None and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        ctx.error(at, "expected a list of strings")


def _check_cache(ctx: Ctx, value: Any, at: Path) -> None:
    cache = ctx.mapping(value, at)
    if cache is None:
        return
    ctx.known_keys(cache, at, CACHE_KEYS)
    ctx.boolean(cache.get("enabled"), (*at, "enabled"))
    ctx.integer(cache.get("default_ttl"), (*at, "default_ttl"), minimum=0)
    _string_list(ctx, cache.get("cookies"), (*at, "cookies"))
    _string_list(ctx, cache.get("headers"), (*at, "headers"))


def _check_upstream(ctx: Ctx, value: Any, at: Path, apps: set[str]) -> None:
    upstream = ctx.string(value, at, required=True)
    if upstream is None:
        return
    app, colon, endpoint = upstream.partition(":")
    if colon and endpoint != "http":
        ctx.error(at, f"expected <app>:http, not {upstream!r}")
    elif app not in apps:
        known = ", ".join(sorted(apps)) or "none"
        ctx.error(at, f"no application named {app!r} (apps: {known})")


def _check_route(ctx: Ctx, route: dict[str, Any], at: Path, apps: set[str]) -> None:
    ctx.known_keys(route, at, ROUTE_KEYS)
    kind = ctx.choice(route.get("type"), (*at, "type"), ROUTE_TYPES, required=True)
    if kind == "upstream":
        _check_upstream(ctx, route.get("upstream"), (*at, "upstream"), apps)
    elif kind is not None:
        target = ctx.string(route.get("to"), (*at, "to"), required=True)
        if target is not None and template_problem(target) is not None:
            ctx.error((*at, "to"), "expected an absolute URL or a route such as https://{default}/")
    ctx.string(route.get("id"), (*at, "id"))
    ctx.boolean(route.get("sticky"), (*at, "sticky"))
    ctx.mapping(route.get("attributes"), (*at, "attributes"))
    _check_cache(ctx, route.get("cache"), (*at, "cache"))
    ssi = route.get("ssi")
    if not isinstance(ssi, bool):
        ssi_spec = ctx.mapping(ssi, (*at, "ssi"))
        if ssi_spec is not None:
            ctx.boolean(ssi_spec.get("enabled"), (*at, "ssi", "enabled"))
    ctx.mapping(route.get("tls"), (*at, "tls"))
    redirects = ctx.mapping(route.get("redirects"), (*at, "redirects"))
    if redirects is not None:
        paths_at = (*at, "redirects", "paths")
        for source, rule in (ctx.mapping(redirects.get("paths"), paths_at) or {}).items():
            spec = ctx.mapping(rule, (*paths_at, source), required=True)
            if spec is not None:
                ctx.string(spec.get("to"), (*paths_at, source, "to"), required=True)


def check_routes(ctx: Ctx, data: Any, apps: set[str]) -> dict[str, dict[str, Any]]:
    """The routes of routes.yaml as written (a copy), after checking them against
    the app names ``apps``; problems go to ``ctx``."""
    spec = ctx.mapping(data, ())
    out: dict[str, dict[str, Any]] = {}
    primary: str | None = None
    for template, value in (spec or {}).items():
        at: Path = (template,)
        problem = template_problem(template)
        if problem is not None:
            ctx.error(at, problem)
            continue
        route = ctx.mapping(value, at, required=True)
        if route is None:
            continue
        _check_route(ctx, route, at, apps)
        if route.get("primary") is True:
            if primary is not None:
                ctx.error((*at, "primary"), f"only one route may be primary ({primary} is)")
            else:
                primary = template
        out[template] = copy.deepcopy(route)
    return out
