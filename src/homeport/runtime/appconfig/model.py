"""The validated, normalised configuration of a repository (what the rest of the
runtime reads instead of YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The `type:` languages the parser accepts; which of them a server can actually
# build is for `homeport.runtime.runtimes` to say.
LANGUAGES = (
    "python",
    "nodejs",
    "php",
    "golang",
    "ruby",
    "java",
    "dotnet",
    "elixir",
    "lisp",
    "rust",
)
MOUNT_SOURCES = ("local", "tmp", "service", "storage", "instance")
SSH_ROLES = ("admin", "contributor", "viewer")
ROUTE_TYPES = ("upstream", "redirect", "proxy")

CRON_TIMEOUT = 86400  # seconds; the documented default and maximum
CRON_SHUTDOWN_TIMEOUT = 10  # seconds between a cancel and SIGKILL
APP_DIR = "/app"


class ConfigError(Exception):
    """The repository's configuration is invalid; ``errors`` holds one line per
    problem, each naming the file, the line and the key."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


@dataclass(frozen=True)
class Mount:
    """A writable directory of the app.

    ``path`` is relative to the app root, without leading or trailing slashes;
    ``source_path`` names the directory inside the source's storage."""

    path: str
    source: str
    source_path: str
    service: str | None = None


@dataclass(frozen=True)
class WorkerConfig:
    """A worker: the built app running another command, without web traffic.

    ``mounts`` and ``variables`` are the effective ones (the worker's own when it
    sets them, else the app's: an override replaces the whole property)."""

    name: str
    start: str
    mounts: dict[str, Mount] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    pre_start: str | None = None
    post_start: str | None = None


@dataclass(frozen=True)
class CronConfig:
    """One cron job; ``spec`` has five fields (the scheduler parses it)."""

    name: str
    spec: str
    start: str
    stop: str | None = None
    timeout: int = CRON_TIMEOUT
    shutdown_timeout: int = CRON_SHUTDOWN_TIMEOUT


@dataclass(frozen=True)
class AppConfig:
    """One application of the repository."""

    name: str
    type: str
    runtime_language: str
    runtime_version: str
    root: str
    source_file: str
    build_flavor: str
    dependencies: dict[str, dict[str, str]]
    hooks_build: str
    hooks_deploy: str
    hooks_post_deploy: str
    web_commands_start: str | None
    web_commands_pre_start: str | None
    web_commands_post_start: str | None
    socket_family: str
    web_locations: dict[str, dict[str, Any]]
    document_root: str
    mounts: dict[str, Mount]
    workers: dict[str, WorkerConfig]
    crons: dict[str, CronConfig]
    variables: dict[str, dict[str, Any]]
    relationships: dict[str, str]
    access_ssh: str
    timezone: str | None
    disk: int | None
    size: str
    source_operations: dict[str, str]
    raw: dict[str, Any]


@dataclass(frozen=True)
class ProjectConfig:
    """Every app, the routes and services of one commit, plus the warnings to show
    the pusher (unknown keys and the like)."""

    apps: list[AppConfig] = field(default_factory=list)
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def app(self, name: str) -> AppConfig | None:
        """The app called ``name``, if there is one."""
        for app in self.apps:
            if app.name == name:
                return app
        return None
