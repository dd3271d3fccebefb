"""From deployed routes to the router's table."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from homeport.runtime.router import Redirect, RouteEntry, Upstream


def route_entries(
    routes: dict[str, Any], processes: dict[str, Any], label: str
) -> list[RouteEntry]:
    """One entry per served URL: upstream routes point at the app's port or socket."""
    apps: dict[str, Any] = processes.get("apps", {})
    out: list[RouteEntry] = []
    for url, route in routes.items():
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        if not path.endswith("/"):
            path += "/"
        if not host:
            continue
        if route.get("type") == "redirect" and route.get("to"):
            out.append(RouteEntry(host, path, Redirect(str(route["to"]))))
            continue
        app_name = str(route.get("upstream", "")).partition(":")[0]
        where = apps.get(app_name)
        if not where:
            continue
        out.append(
            RouteEntry(
                host,
                path,
                Upstream(label, port=where.get("port"), socket=where.get("socket")),
            )
        )
    return out
