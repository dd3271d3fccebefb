"""The `Deployment` document the API serves as `deployments/current` (platform-deploy.md §4.9).

Its apps, workers and routes have the shapes of the published description's
`Deployment` schema; the API view (``homeport.web.routes.deployments``) adds only
`id`, `_links` and, on each route, `original_url` (docs/design.md, "Differences from
the published API description")."""

from __future__ import annotations

import copy
from typing import Any

from homeport.runtime.appconfig import AppConfig, ProjectConfig
from homeport.runtime.appconfig.model import APP_DIR, WorkerConfig
from homeport.runtime.build import BuildResult
from homeport.store.models import Environment, Project
from homeport.store.types import utcnow

# A self-hosted server sells nothing: no licence, no quota, nothing frozen or suspended.
SUBSCRIPTION: dict[str, Any] = {
    "license_uri": "",
    "storage": 0,
    "included_users": 0,
    "subscription_management_uri": "",
    "restricted": False,
    "suspended": False,
    "user_licenses": 0,
}

# Every field of the description's `WebApplication` and `Worker` entries, with the value
# shown when a stored document (an older one, or a test's) lacks it. Homeport allocates
# no resources, runs no preflight checks and exposes no endpoints: `null`/empty there.
_COMMON: dict[str, Any] = {
    "resources": None,
    "size": "AUTO",
    "disk": None,
    "access": {},
    "relationships": {},
    "additional_hosts": {},
    "mounts": {},
    "timezone": None,
    "variables": {},
    "firewall": None,
    "container_profile": None,
    "operations": {},
    "name": "",
    "type": "",
    "preflight": {"enabled": False, "ignored_rules": []},
    "tree_id": "",
    "app_dir": APP_DIR,
    "endpoints": None,
    "runtime": {},
    "stack": None,
    "instance_count": 1,
    "slug_id": "",
}
WEBAPP_FIELDS: dict[str, Any] = {
    **_COMMON,
    "web": {"locations": {}, "move_to_root": False},
    "hooks": {"build": None, "deploy": None, "post_deploy": None},
    "crons": {},
    "source": {"root": None, "operations": {}},
    "build": {"flavor": None, "caches": {}},
    "dependencies": {},
    "is_across_submodule": False,
    "config_id": "",
}
WORKER_FIELDS: dict[str, Any] = {
    **_COMMON,
    "worker": {"commands": {"start": ""}},
    "app": "",
}
# The route fields the API shows beyond the description's own: `original_url`, which
# the CLIs select routes by (`route:get`, `route:list`).
ROUTE_FIELDS = (
    "primary",
    "id",
    "production_url",
    "attributes",
    "type",
    "tls",
    "to",
    "cache",
    "ssi",
    "upstream",
    "redirects",
    "sticky",
    "original_url",
)


def fill(entry: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with exactly ``fields``' keys: missing ones get their default."""
    return {key: copy.deepcopy(entry.get(key, default)) for key, default in fields.items()}


def api_route(route: dict[str, Any]) -> dict[str, Any]:
    """A route as the API shows it: upstreams read `app:http` there and are not sticky
    (Homeport runs one instance); `restrict_robots` (a `PLATFORM_ROUTES` field) is left
    out, the environment's own `restrict_robots` says it."""
    out = {key: copy.deepcopy(route[key]) for key in ROUTE_FIELDS if key in route}
    upstream = out.get("upstream")
    if out.get("type") == "upstream" and isinstance(upstream, str) and ":" not in upstream:
        out["upstream"] = f"{upstream}:http"
    if out.get("type") == "upstream":
        out.setdefault("sticky", {"enabled": False})
    out.setdefault("production_url", None)
    return out


def _relationships(app: AppConfig, raw: Any) -> dict[str, Any]:
    """`name: {service, endpoint}` (the description's form of `service:endpoint`)."""
    if raw is None:
        pairs = app.relationships
    else:
        pairs = {}
        for name, target in (raw if isinstance(raw, dict) else {}).items():
            if isinstance(target, dict):
                service = target.get("service") or name
                endpoint = target.get("endpoint")
                pairs[name] = f"{service}:{endpoint}" if endpoint else str(service)
            else:
                pairs[name] = str(target) if target is not None else name
    out: dict[str, Any] = {}
    for name, target in pairs.items():
        service, _, endpoint = target.partition(":")
        out[name] = {"service": service or None, "endpoint": endpoint or None}
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return copy.deepcopy(value) if isinstance(value, dict) else {}


def _firewall(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    outbound = value.get("outbound")
    rules = []
    for rule in outbound if isinstance(outbound, list) else []:
        if isinstance(rule, dict):
            rules.append(
                {
                    "protocol": rule.get("protocol", "tcp"),
                    "ips": list(rule.get("ips") or []),
                    "domains": list(rule.get("domains") or []),
                    "ports": list(rule.get("ports") or []),
                }
            )
    return {"outbound": rules}


def _operations(value: Any) -> dict[str, Any]:
    """Runtime operations (accepted, not run): the documented defaults filled in."""
    out: dict[str, Any] = {}
    for name, spec in _mapping(value).items():
        if not isinstance(spec, dict):
            continue
        commands = _mapping(spec.get("commands"))
        shown: dict[str, Any] = {"start": str(commands.get("start") or "")}
        if commands.get("stop") is not None:
            shown["stop"] = str(commands["stop"])
        out[name] = {
            "commands": shown,
            "timeout": spec.get("timeout"),
            "role": spec.get("role", "contributor"),  # the documented default
        }
    return out


def _preflight(value: Any) -> dict[str, Any]:
    spec = _mapping(value)
    rules = spec.get("ignored_rules")
    return {
        "enabled": spec.get("enabled") is True,
        "ignored_rules": [str(r) for r in rules] if isinstance(rules, list) else [],
    }


def _stack(value: Any) -> list[Any] | None:
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return copy.deepcopy(value)
    return None


def _expires(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _location(spec: dict[str, Any]) -> dict[str, Any]:
    """A `web.locations` entry with the description's fields (defaults filled in)."""
    out: dict[str, Any] = {
        "root": spec.get("root"),
        "expires": _expires(spec.get("expires", "-1")),
        "passthru": spec.get("passthru", False),
        "scripts": spec.get("scripts", False) is True,
        "allow": spec.get("allow", True) is not False,
        "headers": _mapping(spec.get("headers")),
        "rules": {},
    }
    index = spec.get("index")
    if index is not None:
        out["index"] = [index] if isinstance(index, str) else list(index)
    buffering = spec.get("request_buffering")
    if isinstance(buffering, dict):
        out["request_buffering"] = {
            "enabled": buffering.get("enabled", True) is not False,
            "max_request_size": buffering.get("max_request_size", "250m"),
        }
    for pattern, rule in _mapping(spec.get("rules")).items():
        rule = rule if isinstance(rule, dict) else {}
        shown = {
            k: copy.deepcopy(rule[k])
            for k in ("passthru", "scripts", "allow", "headers")
            if k in rule
        }
        if "expires" in rule:
            shown["expires"] = _expires(rule["expires"])
        out["rules"][pattern] = shown
    return out


def _web(raw: dict[str, Any]) -> dict[str, Any]:
    commands = _mapping(raw.get("commands"))
    return {
        "locations": {
            prefix: _location(spec if isinstance(spec, dict) else {})
            for prefix, spec in _mapping(raw.get("locations")).items()
        },
        "commands": {k: commands[k] for k in ("pre_start", "start", "post_start") if k in commands},
        "upstream": _mapping(raw.get("upstream")),
        "move_to_root": raw.get("move_to_root") is True,
    }


def _caches(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in _mapping(value).items():
        spec = spec if isinstance(spec, dict) else {}
        watch = spec.get("watch")
        out[name] = {
            "directory": spec.get("directory"),
            "watch": [str(w) for w in watch] if isinstance(watch, list) else [],
            "allow_stale": spec.get("allow_stale") is True,
            "share_between_apps": spec.get("share_between_apps") is True,
        }
    return out


def _container(app: AppConfig, build: BuildResult, own: dict[str, Any]) -> dict[str, Any]:
    """The fields apps and workers share; ``own`` (a worker's section) overrides the
    app's `size`, `disk`, `relationships` and the passed-through keys it sets."""
    raw = app.raw

    def pick(key: str) -> Any:
        return own[key] if own.get(key) is not None else raw.get(key)

    return {
        "resources": None,
        "size": pick("size") or "AUTO",
        "disk": pick("disk"),
        # A worker's shell is its app's: the app's `access` (homeport.web.hal.ssh_access).
        "access": _mapping(raw.get("access")),
        "relationships": _relationships(app, own.get("relationships")),
        "additional_hosts": _mapping(pick("additional_hosts")),
        "mounts": _mapping(raw.get("mounts")),
        "timezone": app.timezone,
        "variables": _mapping(raw.get("variables")),
        "firewall": _firewall(pick("firewall")),
        "container_profile": pick("container_profile")
        if isinstance(pick("container_profile"), str)
        else None,
        "operations": _operations(raw.get("operations")),
        "name": app.name,
        "type": app.type,
        "preflight": _preflight(raw.get("preflight")),
        "tree_id": build.tree_id,
        "app_dir": APP_DIR,
        "endpoints": None,
        "runtime": _mapping(raw.get("runtime")),
        "stack": _stack(raw.get("stack")),
        "instance_count": 1,
        "slug_id": build.slug_id,
    }


def webapp(app: AppConfig, build: BuildResult) -> dict[str, Any]:
    """One app of the deployment: its normalised configuration and build ids."""
    raw = app.raw
    build_raw = _mapping(raw.get("build"))
    out = _container(app, build, {})
    out.update(
        {
            "web": _web(_mapping(raw.get("web"))),
            "hooks": _mapping(raw.get("hooks")),
            "crons": _mapping(raw.get("crons")),
            "source": _mapping(raw.get("source")),
            "build": {
                "flavor": build_raw.get("flavor"),
                "caches": _caches(build_raw.get("caches")),
            },
            "dependencies": _mapping(raw.get("dependencies")),
            "is_across_submodule": False,
            "config_id": build.config_id,
        }
    )
    return fill(out, WEBAPP_FIELDS)


def worker_entry(app: AppConfig, worker: WorkerConfig, build: BuildResult) -> dict[str, Any]:
    """One worker (`<app>--<worker>`): the app's container running the worker's own
    commands, with its own mounts, variables and the overrides it sets."""
    own = _mapping(_mapping(app.raw.get("workers")).get(worker.name))
    out = _container(app, build, own)
    commands: dict[str, Any] = {"start": worker.start}
    if worker.pre_start is not None:
        commands["pre_start"] = worker.pre_start
    if worker.post_start is not None:
        commands["post_start"] = worker.post_start
    shown: dict[str, Any] = {"commands": commands}
    if own.get("disk") is not None:
        shown["disk"] = own["disk"]
    out.update(
        {
            "name": f"{app.name}--{worker.name}",
            "mounts": _mapping(own["mounts"]) if "mounts" in own else out["mounts"],
            "variables": _mapping(own["variables"]) if "variables" in own else out["variables"],
            "worker": shown,
            "app": app.name,
        }
    )
    return fill(out, WORKER_FIELDS)


def deployment_document(
    project: Project,
    env: Environment,
    commit: str,
    config: ProjectConfig,
    apps: list[tuple[AppConfig, BuildResult]],
    routes: dict[str, Any],
) -> dict[str, Any]:
    """The whole document, written at deploy time."""
    now = utcnow().isoformat()
    workers: dict[str, Any] = {}
    for app, build in apps:
        for worker in app.workers.values():
            entry = worker_entry(app, worker, build)
            workers[entry["name"]] = entry
    return {
        "id": "current",
        "cluster_name": f"{project.id}-{env.machine_name}",
        "project_info": {
            "title": project.title,
            "name": project.id,
            "namespace": None,
            "organization": None,
            "capabilities": {},
            "settings": {},
        },
        "environment_info": {
            "name": env.name,
            "status": env.status,
            "is_main": env.is_main,
            "is_production": env.type == "production",
            "constraints": {},
            "reference": f"refs/heads/{env.name}",
            "machine_name": env.machine_name,
            "environment_type": env.type,
            "links": {},
        },
        "deployment_target": "local",
        "vpn": None,
        "http_access": {"is_enabled": False, "addresses": [], "basic_auth": {}},
        "enable_smtp": False,
        "restrict_robots": env.type != "production",
        "variables": [],
        "access": [],
        "subscription": dict(SUBSCRIPTION),
        "services": dict(config.services),
        "routes": {url: api_route(r) for url, r in routes.items()},
        "webapps": {app.name: webapp(app, build) for app, build in apps},
        "workers": workers,
        "container_profiles": {},
        "fingerprint": commit,
        "created_at": now,
        "updated_at": now,
    }
