"""Render nginx's configuration from route entries.

The text is built here rather than from a template because every value needs
nginx quoting on top of validation, and the structure is small. Values reach
this module already checked by `model` (hosts, paths, sockets, redirect
targets); the only free text, an environment's name, is HTML-escaped and
stripped of the characters nginx would interpret.
"""

from __future__ import annotations

import grp
import html
import ipaddress
import os
import pwd
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from homeport.runtime.router.model import Redirect, RouteEntry, Upstream, check_host

# Answered on the default server only, so no app can shadow it: which
# configuration the workers run ("<router token>-<generation>"), polled after
# start and reload.
GENERATION_PATH = "/.homeport/router-generation"
NO_ROUTE_TEXT = "No route for this host\n"
NO_PATH_TEXT = "No route for this path\n"
# Long enough for server-sent events, long polls and idle WebSockets.
STREAM_TIMEOUT = "3600s"
_UNSAFE_DIR_RE = re.compile(r'["\\$\x00-\x1f\x7f]')
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class Layout:
    """Where nginx keeps its files, all under one state directory."""

    state_dir: Path

    @property
    def conf(self) -> Path:
        """The configuration nginx runs."""
        return self.state_dir / "nginx.conf"

    @property
    def pid(self) -> Path:
        """Written by the nginx master."""
        return self.state_dir / "nginx.pid"

    @property
    def error_log(self) -> Path:
        """nginx's own log (errors and warnings; there is no access log)."""
        return self.state_dir / "error.log"

    @property
    def temp(self) -> Path:
        """Parent of the five temp directories nginx needs."""
        return self.state_dir / "tmp"


def check_state_dir(path: Path) -> Path:
    """Return `path` made absolute, or raise ValueError if nginx could misread it."""
    resolved = path.resolve()
    if _UNSAFE_DIR_RE.search(str(resolved)):
        raise ValueError(f"state directory path unusable in nginx configuration: {path}")
    return resolved


def listen_address(bind_host: str, bind_port: int) -> str:
    """The `listen` argument for a host and port; raise ValueError if either is unusable."""
    if not 1 <= bind_port <= 65535:
        raise ValueError(f"invalid router port: {bind_port} (nginx cannot pick a free port)")
    try:
        address = ipaddress.ip_address(bind_host)
    except ValueError:
        return f"{check_host(bind_host)}:{bind_port}"
    if address.version == 6:
        return f"[{address}]:{bind_port}"
    return f"{address}:{bind_port}"


def _q(value: str) -> str:
    # Callers pass validated text without quotes or backslashes; quoting keeps
    # ";", "{" and "}" inside a single nginx token.
    return f'"{value}"'


def _html_text(text: str) -> str:
    """Escape free text for an HTML page inside an nginx `return` string."""
    escaped = html.escape(text, quote=True)
    # nginx expands "$name" in `return` text and treats "\" as an escape.
    escaped = escaped.replace("$", "&#36;").replace("\\", "&#92;")
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in escaped)


def _down_page(environment: str) -> str:
    env = _html_text(environment)
    return (
        '<!DOCTYPE html><html><head><meta charset=\\"utf-8\\">'
        "<title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
        f"<p>502 Bad Gateway: the app of environment {env} is not answering.</p>"
        "</body></html>\\n"
    )


def _user_line() -> str:
    # As root, nginx would otherwise drop its workers to "nobody", who cannot
    # write the temp directories under state_dir; keep them as the invoking user.
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    if not (_NAME_RE.fullmatch(user) and _NAME_RE.fullmatch(group)):
        raise ValueError(f"cannot name user {user!r} or group {group!r} in nginx configuration")
    return f"user {user} {group};\n"


def _upstream_key(target: Upstream) -> str:
    if target.port is not None:
        return f"127.0.0.1:{target.port}"
    return f"unix:{target.socket}"


def _bucket_size(hosts: Sequence[str]) -> int:
    """server_names_hash_bucket_size fitting the longest host name.

    A bucket holds a pointer, the name padded to 8 bytes and an end marker;
    names that do not fit make nginx refuse the configuration.
    """
    longest = max((len(h) for h in hosts), default=0)
    size = 128
    while 8 + (longest + 2 + 7) // 8 * 8 + 8 > size:
        size *= 2
    return size


def worker_count() -> int:
    """Half the machine's cores: the router shares them with the apps it serves (on two
    cores one worker gave 0.93x direct throughput, two workers 0.67x)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _main_block(layout: Layout, bucket_size: int) -> str:
    temps = "".join(f"    {name}_temp_path {_q(str(layout.temp / name))};\n" for name in TEMP_DIRS)
    return (
        "# Written by Homeport on every route change; edits are lost.\n"
        "daemon off;\n"
        "master_process on;\n"
        f"worker_processes {worker_count()};\n"
        f"{_user_line()}"
        f"pid {_q(str(layout.pid))};\n"
        f"error_log {_q(str(layout.error_log))} warn;\n"
        "error_log stderr warn;\n"
        "\n"
        "events {\n    worker_connections 1024;\n}\n\n"
        "http {\n"
        "    server_tokens off;\n"
        "    access_log off;\n"
        "    default_type text/plain;\n"
        f"    server_names_hash_bucket_size {bucket_size};\n"
        "    server_names_hash_max_size 8192;\n"
        f"{temps}"
        # No upload limit: apps decide what they accept.
        "    client_max_body_size 0;\n"
        "    proxy_http_version 1.1;\n"
        # Stream both ways: bodies pass through as they arrive.
        "    proxy_buffering off;\n"
        "    proxy_request_buffering off;\n"
        "    proxy_redirect off;\n"
        "    proxy_connect_timeout 10s;\n"
        f"    proxy_read_timeout {STREAM_TIMEOUT};\n"
        f"    proxy_send_timeout {STREAM_TIMEOUT};\n"
        "    proxy_set_header Host $http_host;\n"
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "    proxy_set_header X-Forwarded-Proto $scheme;\n"
        "    proxy_set_header X-Forwarded-Host $http_host;\n"
        "    proxy_set_header X-Real-IP $remote_addr;\n"
        "    proxy_set_header Upgrade $http_upgrade;\n"
        "    proxy_set_header Connection $connection_upgrade;\n"
        "\n"
        # An empty Connection header (no upgrade) lets upstream keep-alive work.
        "    map $http_upgrade $connection_upgrade {\n"
        "        default upgrade;\n"
        '        "" "";\n'
        "    }\n"
    )


def _default_server(listen: str, generation: str) -> str:
    return (
        "\n    server {\n"
        f"        listen {listen} default_server;\n"
        f"        location = {GENERATION_PATH} {{\n"
        f'            return 200 "{generation}\\n";\n'
        "        }\n"
        "        location / {\n"
        f'            return 404 "{NO_ROUTE_TEXT.strip()}\\n";\n'
        "        }\n"
        "    }\n"
    )


def _location(
    match: str, index: int | None, target: Upstream | Redirect | None, upstreams: dict[str, str]
) -> list[str]:
    """One `location` block sending requests to `target` (None: no route)."""
    lines = [f"        location {match} {{"]
    if target is None:
        lines.append(f'            return 404 "{NO_PATH_TEXT.strip()}\\n";')
    elif isinstance(target, Redirect):
        lines.append(f"            return {target.code} {_q(target.to)};")
    else:
        lines.append(f"            proxy_pass http://{upstreams[_upstream_key(target)]};")
        lines.append(f"            error_page 502 503 504 @hp_down_{index};")
    lines.append("        }")
    return lines


def _host_server(
    listen: str, host: str, routes: list[tuple[int, RouteEntry]], upstreams: dict[str, str]
) -> str:
    lines = ["\n    server {", f"        listen {listen};", f"        server_name {host};"]
    by_path = {entry.path: (index, entry.target) for index, entry in routes}
    for path, (index, target) in by_path.items():
        lines += _location(_q(path), index, target, upstreams)
        if isinstance(target, Upstream):
            lines.append(f"        location @hp_down_{index} {{")
            lines.append("            default_type text/html;")
            lines.append("            charset utf-8;")
            lines.append(f'            return 502 "{_down_page(target.environment)}";')
            lines.append("        }")
        if path != "/" and isinstance(target, Upstream):
            # nginx answers "/api" with a 301 to "/api/" when "/api/" is proxied;
            # an exact location keeps plain prefix semantics: the longest other
            # route containing "/api" serves it.
            bare = path[:-1]
            parent = max((p for p in by_path if bare.startswith(p)), key=len, default=None)
            found = by_path[parent] if parent is not None else (None, None)
            lines += _location(f"= {_q(bare)}", found[0], found[1], upstreams)
    if "/" not in by_path:
        lines += _location("/", None, None, upstreams)
    lines.append("    }")
    return "\n".join(lines) + "\n"


def render(layout: Layout, listen: str, entries: Sequence[RouteEntry], generation: str) -> str:
    """The whole nginx.conf for these routes; raise ValueError on a duplicate route."""
    if not _NAME_RE.fullmatch(generation):
        raise ValueError(f"invalid configuration generation label: {generation!r}")
    by_host: dict[str, list[tuple[int, RouteEntry]]] = {}
    seen: set[tuple[str, str]] = set()
    upstreams: dict[str, str] = {}
    for index, entry in enumerate(entries):
        if (entry.host, entry.path) in seen:
            raise ValueError(f"duplicate route: {entry.host}{entry.path}")
        seen.add((entry.host, entry.path))
        by_host.setdefault(entry.host, []).append((index, entry))
        if isinstance(entry.target, Upstream):
            key = _upstream_key(entry.target)
            upstreams.setdefault(key, f"hp_up_{len(upstreams)}")

    parts = [_main_block(layout, _bucket_size(list(by_host)))]
    for key, name in upstreams.items():
        # One server per upstream: nginx never marks a lone server as failed,
        # so a restarted app is tried again at once.
        parts.append(
            f"\n    upstream {name} {{\n        server {key};\n        keepalive 32;\n    }}\n"
        )
    parts.append(_default_server(listen, generation))
    for host, routes in by_host.items():
        parts.append(_host_server(listen, host, routes, upstreams))
    parts.append("}\n")
    return "".join(parts)
