"""The one settings object, built from ``HOMEPORT_*`` environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A ``HOMEPORT_*`` variable has a value Homeport cannot use."""


# The runtime drivers HOMEPORT_RUNTIME_DRIVER may name (runtime/driver.py's DRIVERS):
# "local" runs apps on this machine in bubblewrap sandboxes.
RUNTIME_DRIVERS = ("local",)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


def _bind(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"HOMEPORT_BIND must be host:port, not {raw!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Settings:
    """Everything Homeport reads from its environment, resolved once at start."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    admin_email: str = "admin@example.com"
    project_create: str = "admin"  # "admin" or "everyone"
    access_token_ttl: int = 900
    auth_failure_limit: int = 10
    auth_failure_window: int = 60
    secret_keys: tuple[str, ...] = ()
    backup_url: str = ""
    backup_quota: int = 10
    worker_enabled: bool = True
    worker_poll_interval: float = 0.5
    worker_threads: int = 4
    test_handlers: bool = False
    # TEST ONLY: seconds to sleep at each backup/restore progress report, so crash tests
    # can kill a worker in the middle of the work.
    test_slow_progress: float = 0.0
    public_url: str = ""
    log_level: str = "info"
    # Request limits: a body larger than this answers 413, a request head (request line
    # and headers) larger than that answers 431; both before anything is buffered whole.
    max_body_bytes: int = 262_144
    max_header_bytes: int = 65_536
    # A web writer waits at most this long for its turn before answering 503.
    write_queue_timeout: float = 30.0
    max_log_streams: int = 8
    # Git over SSH listens here (None: off); pushes may not carry a larger file.
    ssh_bind: tuple[str, int] | None = ("127.0.0.1", 2222)
    git_max_file_size: int = 100 * 1024 * 1024
    # The runtime: the router's listener (None: off), the domain of `{default}` routes,
    # the build time limit, and the sandbox ("bwrap", or "none" on purpose).
    router_bind: tuple[str, int] | None = ("127.0.0.1", 8080)
    route_domain: str = "localhost"
    build_timeout: int = 3600
    sandbox: str = "bwrap"
    # Which runtime driver runs the apps (RUNTIME_DRIVERS; docs/scaling.md).
    runtime_driver: str = "local"
    # Seconds a deployed app gets to start listening before the deploy fails.
    start_timeout: float = 60.0
    # Crons: the shortest interval a spec may have (shorter ones are refused at push),
    # and whether `homeport serve` runs the scheduler (off for a separate `homeport
    # scheduler` process).
    cron_min_interval: int = 300
    scheduler_enabled: bool = True
    # Operations: log lines as "text" or "json"; the bearer token /metrics asks for
    # (empty: /metrics answers loopback callers only, see docs/operations.md).
    log_format: str = "text"
    metrics_token: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("HOMEPORT_DATA_DIR") or "./var").resolve()
        host, port = _bind(env.get("HOMEPORT_BIND") or "127.0.0.1:8000")
        database_url = env.get("HOMEPORT_DATABASE_URL") or f"sqlite:///{data_dir / 'homeport.db'}"
        project_create = env.get("HOMEPORT_PROJECT_CREATE") or "admin"
        if project_create not in ("admin", "everyone"):
            raise SettingsError("HOMEPORT_PROJECT_CREATE must be 'admin' or 'everyone'")
        keys = tuple(
            k.strip() for k in (env.get("HOMEPORT_SECRET_KEY") or "").split(",") if k.strip()
        )
        backup_url = env.get("HOMEPORT_BACKUP_URL") or f"file://{data_dir / 'backups'}"
        return cls(
            data_dir=data_dir,
            host=host,
            port=port,
            database_url=database_url,
            admin_email=env.get("HOMEPORT_ADMIN_EMAIL") or "admin@example.com",
            project_create=project_create,
            access_token_ttl=_int(env, "HOMEPORT_ACCESS_TOKEN_TTL", 900, minimum=10),
            auth_failure_limit=_int(env, "HOMEPORT_AUTH_FAILURE_LIMIT", 10, minimum=1),
            auth_failure_window=_int(env, "HOMEPORT_AUTH_FAILURE_WINDOW", 60, minimum=1),
            secret_keys=keys,
            backup_url=backup_url,
            backup_quota=_int(env, "HOMEPORT_BACKUP_QUOTA", 10, minimum=1),
            worker_enabled=(env.get("HOMEPORT_WORKER", "1") not in ("0", "false", "no")),
            worker_threads=_int(env, "HOMEPORT_WORKER_THREADS", 4, minimum=1),
            worker_poll_interval=_float(env, "HOMEPORT_WORKER_POLL_INTERVAL", 0.5),
            test_handlers=env.get("HOMEPORT_TEST_HANDLERS") == "1",
            test_slow_progress=_float(env, "HOMEPORT_TEST_SLOW_PROGRESS", 0.0)
            if env.get("HOMEPORT_TEST_SLOW_PROGRESS")
            else 0.0,
            public_url=(env.get("HOMEPORT_PUBLIC_URL") or "").rstrip("/"),
            log_level=env.get("HOMEPORT_LOG_LEVEL") or "info",
            max_body_bytes=_int(env, "HOMEPORT_MAX_BODY_BYTES", 262_144, minimum=1024),
            max_header_bytes=_int(env, "HOMEPORT_MAX_HEADER_BYTES", 65_536, minimum=4096),
            write_queue_timeout=_float(env, "HOMEPORT_WRITE_QUEUE_TIMEOUT", 30.0),
            max_log_streams=_int(env, "HOMEPORT_MAX_LOG_STREAMS", 8, minimum=1),
            ssh_bind=_ssh_bind(env.get("HOMEPORT_SSH_BIND") or "127.0.0.1:2222"),
            git_max_file_size=_int(
                env, "HOMEPORT_GIT_MAX_FILE_SIZE", 100 * 1024 * 1024, minimum=1024
            ),
            router_bind=_optional_bind(
                "HOMEPORT_ROUTER_BIND", env.get("HOMEPORT_ROUTER_BIND") or "127.0.0.1:8080"
            ),
            route_domain=_route_domain(env.get("HOMEPORT_ROUTE_DOMAIN") or "localhost"),
            build_timeout=_int(env, "HOMEPORT_BUILD_TIMEOUT", 3600, minimum=1),
            sandbox=_sandbox(env.get("HOMEPORT_SANDBOX") or "bwrap"),
            runtime_driver=_runtime_driver(env.get("HOMEPORT_RUNTIME_DRIVER") or "local"),
            start_timeout=_float(env, "HOMEPORT_START_TIMEOUT", 60.0),
            cron_min_interval=_int(env, "HOMEPORT_CRON_MIN_INTERVAL", 300, minimum=60),
            scheduler_enabled=(env.get("HOMEPORT_SCHEDULER", "1") not in ("0", "false", "no")),
            log_format=_log_format(env.get("HOMEPORT_LOG_FORMAT") or "text"),
            metrics_token=(env.get("HOMEPORT_METRICS_TOKEN") or "").strip(),
        )

    @property
    def secrets_dir(self) -> Path:
        """Where generated server secrets live (mode 0700)."""
        return self.data_dir / "secrets"

    @property
    def git_dir(self) -> Path:
        """Where the projects' bare repositories live."""
        return self.data_dir / "git"

    @property
    def ssh_dir(self) -> Path:
        """The SSH server's host key."""
        return self.data_dir / "ssh"

    @property
    def runtime_dir(self) -> Path:
        """Builds, the build cache, process logs and the router's files."""
        return self.data_dir / "runtime"

    @property
    def api_url(self) -> str:
        """The URL apps and their CLI reach this server's API at."""
        if self.public_url:
            return self.public_url
        # An app on this machine reaches a wildcard listener through loopback.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def environments_dir(self) -> Path:
        """Root of every environment's data area."""
        return self.data_dir / "environments"


def _ssh_bind(value: str) -> tuple[str, int] | None:
    """``host:port`` for the SSH listener, or None for ``off``."""
    return _optional_bind("HOMEPORT_SSH_BIND", value)


def _optional_bind(name: str, value: str) -> tuple[str, int] | None:
    """``host:port`` for a listener, or None for ``off``."""
    if value.strip().lower() in ("off", "0", "no", "false"):
        return None
    try:
        return _bind(value)
    except SettingsError:
        raise SettingsError(f"{name} must be host:port or off, not {value!r}") from None


def _route_domain(value: str) -> str:
    """The domain under which environments get their `{default}` host."""
    domain = value.strip().lower().strip(".")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", domain):
        raise SettingsError(f"HOMEPORT_ROUTE_DOMAIN must be a domain name, not {value!r}")
    return domain


def _log_format(value: str) -> str:
    fmt = value.strip().lower()
    if fmt not in ("text", "json"):
        raise SettingsError(f"HOMEPORT_LOG_FORMAT must be 'text' or 'json', not {value!r}")
    return fmt


def unknown_driver(value: str, known: list[str]) -> str:
    """The refusal of a runtime driver name Homeport does not have."""
    return (
        f"HOMEPORT_RUNTIME_DRIVER must name a known runtime driver ({', '.join(known)}), "
        f"not {value!r}"
    )


def _runtime_driver(value: str) -> str:
    name = value.strip().lower()
    if name not in RUNTIME_DRIVERS:
        raise SettingsError(unknown_driver(value, sorted(RUNTIME_DRIVERS)))
    return name


def _sandbox(value: str) -> str:
    if value not in ("bwrap", "none"):
        raise SettingsError(f"HOMEPORT_SANDBOX must be 'bwrap' or 'none', not {value!r}")
    return value
