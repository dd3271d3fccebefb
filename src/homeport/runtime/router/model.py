"""Route entries and their validation.

Every value here ends up inside nginx's configuration, so each one is checked
against a strict character set when it is built: a route can never close a
directive, open a block or smuggle in an nginx variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# First and last characters must be alphanumeric: a leading "." would turn the
# name into an nginx wildcard (".example.com" also matches every subdomain).
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
# No ":" so that nginx's "unix:" address parsing can never split the path.
_SOCKET_RE = re.compile(r"^/[A-Za-z0-9._/+@-]+$")
# "$" is left out: nginx would expand it as a variable in `return`.
_URL_CHARS = r"[A-Za-z0-9._~!&'()*+,;=:@%/?#-]"
_REDIRECT_RE = re.compile(
    rf"^(https?://[A-Za-z0-9.:\[\]-]+(/{_URL_CHARS}*)?|/{_URL_CHARS}*)$",
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
MAX_HOST_LENGTH = 253
# The Linux limit for sun_path, terminating NUL included.
MAX_SOCKET_PATH = 107


class RouterError(Exception):
    """nginx refused a configuration, failed to start, or failed to reload."""


def check_host(host: str) -> str:
    """Return `host` if it is a safe lower-case DNS-style name, else raise ValueError."""
    if len(host) > MAX_HOST_LENGTH or not _HOST_RE.fullmatch(host) or ".." in host:
        raise ValueError(f"invalid host name for a route: {host!r}")
    return host


def check_path(path: str) -> str:
    """Return `path` if it is a safe URL prefix starting and ending with "/", else raise."""
    if not _PATH_RE.fullmatch(path) or not path.endswith("/"):
        raise ValueError(f"invalid path prefix for a route: {path!r}")
    return path


@dataclass(frozen=True)
class Upstream:
    """Where an app listens: a TCP port on 127.0.0.1 or a unix socket path.

    `environment` names the environment on the 502 page shown when the app does
    not answer, e.g. "main (project abc123)"; it may hold any text (it is escaped).
    """

    environment: str
    port: int | None = None
    socket: str | None = None

    def __post_init__(self) -> None:
        if (self.port is None) == (self.socket is None):
            raise ValueError("an upstream needs exactly one of port and socket")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"invalid upstream port: {self.port}")
        if self.socket is not None and (
            not _SOCKET_RE.fullmatch(self.socket) or len(self.socket) > MAX_SOCKET_PATH
        ):
            raise ValueError(f"invalid upstream socket path: {self.socket!r}")


@dataclass(frozen=True)
class Redirect:
    """A route answering with an HTTP redirect to the fixed URL `to`.

    The target is used as given: the request's path is not appended, so
    "https://example.com/" sends every request under the prefix to that page.
    """

    to: str
    code: int = 301

    def __post_init__(self) -> None:
        if self.code not in REDIRECT_CODES:
            raise ValueError(f"invalid redirect code: {self.code}")
        if not _REDIRECT_RE.fullmatch(self.to):
            raise ValueError(f"invalid redirect target: {self.to!r}")


@dataclass(frozen=True)
class RouteEntry:
    """One served URL prefix: requests for `host` under `path` go to `target`.

    The longest matching prefix wins and "/" catches the rest; "/api" (without
    the slash) belongs to the route that would serve it if "/api/" did not exist.
    The app sees the full request path: the prefix is not stripped.
    """

    host: str
    path: str
    target: Upstream | Redirect

    def __post_init__(self) -> None:
        check_host(self.host)
        check_path(self.path)
        if not isinstance(self.target, Upstream | Redirect):
            raise ValueError(f"invalid route target: {self.target!r}")
