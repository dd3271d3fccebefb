"""The `Deployment` document the API serves as `deployments/current` (platform-deploy.md §4.9)."""

from __future__ import annotations

from typing import Any

from homeport.runtime.appconfig import AppConfig, ProjectConfig
from homeport.runtime.build import BuildResult
from homeport.store.models import Environment, Project
from homeport.store.types import utcnow


def api_route(route: dict[str, Any]) -> dict[str, Any]:
    """A route as the API shows it: upstreams read `app:http` there."""
    out = dict(route)
    upstream = out.get("upstream")
    if out.get("type") == "upstream" and isinstance(upstream, str) and ":" not in upstream:
        out["upstream"] = f"{upstream}:http"
    out.setdefault("production_url", None)
    return out


def webapp(app: AppConfig, build: BuildResult) -> dict[str, Any]:
    """One app of the deployment: its normalised configuration and build ids."""
    out: dict[str, Any] = dict(app.raw)
    out.update(
        {
            "name": app.name,
            "type": app.type,
            "size": out.get("size", "AUTO"),
            "disk": out.get("disk"),
            "tree_id": build.tree_id,
            "config_id": build.config_id,
            "slug_id": build.slug_id,
            "app_dir": "/app",
            "instance_count": 1,
        }
    )
    return out


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
            workers[f"{app.name}--{worker.name}"] = {
                **webapp(app, build),
                "name": f"{app.name}--{worker.name}",
                "worker": {"commands": {"start": worker.start}},
                "app": app.name,
            }
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
        "subscription": {},
        "services": dict(config.services),
        "routes": {url: api_route(r) for url, r in routes.items()},
        "webapps": {app.name: webapp(app, build) for app, build in apps},
        "workers": workers,
        "container_profiles": {},
        "fingerprint": commit,
        "created_at": now,
        "updated_at": now,
    }
