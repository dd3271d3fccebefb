"""The environment contract: the variables every build and runtime process sees.

What Platform.sh apps and `platformshconfig` read (platform-runtime.md §3):
`PLATFORM_*` with base64 JSON where Platform.sh uses it, `PORT`/`SOCKET` at run
time, the `env:` variables as their own names, and `PLATFORMSH_CLI_API_URL` so the
CLI inside the app talks to this server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APP_DIR = "/app"
SOCKET_PATH = "/run/app.sock"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def b64json(value: Any) -> str:
    """Platform.sh's encoding: standard base64 of compact UTF-8 JSON."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class AppFacts:
    """What the contract needs to know of one app and where it runs."""

    project_id: str
    project_entropy: str
    app_name: str
    tree_id: str
    app_dir: str  # "/app" in the sandbox, the build's path without one
    api_url: str


def search_path(app_dir: str) -> str:
    """PATH: the app's own tools (`.global`, installed CLI) before the system's."""
    return f"{app_dir}/.global/bin:{app_dir}/.platformsh/bin:{SYSTEM_PATH}"


def _common(facts: AppFacts) -> dict[str, str]:
    return {
        "HOME": facts.app_dir,
        "LANG": "C.UTF-8",
        "PATH": search_path(facts.app_dir),
        "PLATFORM_APP_DIR": facts.app_dir,
        "PLATFORM_APPLICATION_NAME": facts.app_name,
        "PLATFORM_PROJECT": facts.project_id,
        "PLATFORM_PROJECT_ENTROPY": facts.project_entropy,
        "PLATFORM_TREE_ID": facts.tree_id,
        "PLATFORM_VENDOR": "homeport",
        "PLATFORMSH_CLI_API_URL": facts.api_url,
        "PYTHONUNBUFFERED": "1",
    }


def build_environment(
    facts: AppFacts,
    build_application: Mapping[str, Any],
    variables: Mapping[str, str],
    cache_dir: str,
) -> dict[str, str]:
    """Build-time variables: build-visible user variables (``variables`` holds the
    `env:` ones by name and ``PLATFORM_VARIABLES``), the build-time subset of the app
    config, the cache dir, and `CI`. Runtime-only ones are absent (empty to the shell)."""
    out = dict(variables)
    out.update(_common(facts))
    out.update(
        {
            "CI": "true",
            "PLATFORM_APPLICATION": b64json(dict(build_application)),
            "PLATFORM_CACHE_DIR": cache_dir,
            "PLATFORM_OUTPUT_DIR": facts.app_dir,
        }
    )
    out.setdefault("PLATFORM_VARIABLES", b64json({}))
    return out


@dataclass(frozen=True)
class RuntimeFacts:
    """What only exists at run time: the environment and where the app listens."""

    branch: str
    environment: str  # the machine name
    environment_type: str
    document_root: str
    routes: Mapping[str, Any]
    port: int | None
    socket: str | None
    start: str | None = None
    pre_start: str | None = None
    post_start: str | None = None


def runtime_environment(
    facts: AppFacts,
    run: RuntimeFacts,
    application: Mapping[str, Any],
    variables: Mapping[str, str],
) -> dict[str, str]:
    """Run-time variables for web and worker processes, hooks, crons and shells."""
    out = dict(variables)
    out.update(_common(facts))
    out.update(
        {
            "PLATFORM_APPLICATION": b64json(dict(application)),
            "PLATFORM_BRANCH": run.branch,
            "PLATFORM_DOCUMENT_ROOT": run.document_root,
            "PLATFORM_ENVIRONMENT": run.environment,
            "PLATFORM_ENVIRONMENT_TYPE": run.environment_type,
            "PLATFORM_RELATIONSHIPS": b64json({}),
            "PLATFORM_ROUTES": b64json(dict(run.routes)),
            "PLATFORM_SMTP_HOST": "",
        }
    )
    out.setdefault("PLATFORM_VARIABLES", b64json({}))
    if run.port is not None:
        out["PORT"] = str(run.port)
    if run.socket is not None:
        out["SOCKET"] = run.socket
    for name, value in (
        ("PLATFORM_APP_COMMAND", run.start),
        ("PLATFORM_PRE_APP_COMMAND", run.pre_start),
        ("PLATFORM_POST_APP_COMMAND", run.post_start),
    ):
        if value:
            out[name] = value
    return out


def with_environment_file(script: str) -> str:
    """A dash script that sources the app's `.environment` (when present) first."""
    source = '. "$PLATFORM_APP_DIR/.environment"'
    return f'if [ -f "$PLATFORM_APP_DIR/.environment" ]; then {source}; fi\n{script}'


def with_app_variables(
    app_variables: Mapping[str, Mapping[str, Any]], user: Mapping[str, str]
) -> dict[str, str]:
    """Add the app configuration's `variables` beneath the user's (which win:
    platform-runtime.md §2.1). `env:` ones become process variables (structured
    values as JSON); the others join `PLATFORM_VARIABLES` as `prefix:name`."""
    out = dict(user)
    raw = out.get("PLATFORM_VARIABLES")
    decoded: dict[str, Any] = json.loads(base64.b64decode(raw)) if raw else {}
    for prefix, names in app_variables.items():
        if not isinstance(names, Mapping):
            continue
        for name, value in names.items():
            if prefix == "env":
                if name not in out:
                    out[name] = value if isinstance(value, str) else json.dumps(value)
            else:
                decoded.setdefault(f"{prefix}:{name}", value)
    out["PLATFORM_VARIABLES"] = b64json(decoded)
    return out
