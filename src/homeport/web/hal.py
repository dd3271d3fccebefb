"""HAL envelopes and links: ``_links`` come from the policy's answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from homeport.domain import env_sync
from homeport.domain.activities import CANCELLABLE_TYPES, is_cancellable
from homeport.domain.environments import pausable
from homeport.domain.policy import ProjectAction, ProjectGrants
from homeport.runtime.document import SUBSCRIPTION
from homeport.store.models import Activity, Environment, Project
from homeport.web.schemas import iso


def link(href: str, method: str | None = None) -> dict[str, Any]:
    """A HAL link; operations carry their method in ``meta``."""
    out: dict[str, Any] = {"href": href}
    if method:
        out["meta"] = {method.lower(): {}}
    return out


def project_path(project_id: str) -> str:
    """``/projects/{id}``."""
    return f"/projects/{project_id}"


@lru_cache(maxsize=4096)
def env_path(project_id: str, env_name: str) -> str:
    """``/projects/{id}/environments/{name}`` with the name URL-encoded (remembered: a
    list of environments and their activities ask for the same few paths)."""
    return f"{project_path(project_id)}/environments/{quote(env_name, safe='')}"


def accepted(
    code: int,
    entity: Mapping[str, Any] | None,
    activities: Sequence[Activity],
    can_cancel: Callable[[Activity], bool] | None = None,
) -> dict[str, Any]:
    """The body of a mutation: status, code, the entity and its activities (never 202)."""
    embedded: dict[str, Any] = {
        "activities": [activity_view(a, bool(can_cancel and can_cancel(a))) for a in activities]
    }
    if entity is not None:
        embedded["entity"] = dict(entity)
    return {"status": "OK", "code": code, "_embedded": embedded}


# A self-hosted server has no plan limits; the shape is what clients expect.
_UNLIMITED = {
    "legacy_development": False,
    "max_cpu": None,
    "max_memory": None,
    "max_environments": None,
}
# A project's subscription: a deployment's, plus the plan and its (absent) limits.
_SUBSCRIPTION: dict[str, Any] = {
    **SUBSCRIPTION,
    "plan": "development",
    "resources": {
        "container_profiles": False,
        "production": _UNLIMITED,
        "development": _UNLIMITED,
    },
}


def ssh_endpoint(base_url: str, ssh_port: int | None) -> str | None:
    """``host:port`` of the SSH listener as clients reach it; None when SSH is off."""
    if ssh_port is None:
        return None
    host = urlsplit(base_url).hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{ssh_port}"


def git_urls(project_id: str, base_url: str, ssh_port: int | None) -> tuple[str | None, str]:
    """The SSH remote (when SSH is on) and the HTTPS remote of a project's repository."""
    https = f"{base_url}/git/{project_id}.git"
    endpoint = ssh_endpoint(base_url, ssh_port)
    if endpoint is None:
        return None, https
    return f"ssh://{project_id}@{endpoint}/{project_id}.git", https


def ssh_access(document: Mapping[str, Any]) -> dict[str, str | None]:
    """The deployed apps and workers (`app--worker`) of a `Deployment` document and
    each one's `access.ssh` (a worker's is its app's)."""
    out: dict[str, str | None] = {}
    deployed = {**(document.get("webapps") or {}), **(document.get("workers") or {})}
    for name, app in deployed.items():
        access = app.get("access") if isinstance(app, Mapping) else None
        need = access.get("ssh") if isinstance(access, Mapping) else None
        out[str(name)] = need if isinstance(need, str) else None
    return out


def ssh_links(
    env: Environment, rights: ListRights, apps: Mapping[str, str | None], endpoint: str
) -> dict[str, Any]:
    """`ssh` and `pf:ssh:<app>`: ``ssh://<project>-<machine_name>--<app>@host:port`` for
    each app the caller may open a shell on (`ssh` is the first of them)."""
    links: dict[str, Any] = {}
    for name in sorted(apps):
        if rights.ssh(env.type, apps[name]):
            url = f"ssh://{env.project_id}-{env.machine_name}--{name}@{endpoint}"
            if "--" not in name:
                links.setdefault("ssh", {"href": url})
            links[f"pf:ssh:{name}"] = {"href": url}
    return links


# A project's plain links (rel, path suffix), then its ``#`` operations by the policy
# action they need: (rel, path suffix, method). A page of 100 projects builds them all.
_PROJECT_LINKS = (
    ("self", ""),
    ("environments", "/environments"),
    ("activities", "/activities"),
    ("environment-types", "/environment-types"),
    ("access", "/access"),
    ("invitations", "/invitations"),
    ("user-access", "/user-access"),
    ("variables", "/variables"),
)
_PROJECT_OPERATIONS: tuple[tuple[ProjectAction, tuple[tuple[str, str, str], ...]], ...] = (
    ("edit", (("#edit", "", "patch"),)),
    ("delete", (("#delete", "", "delete"),)),
    (
        "manage_access",
        (
            ("#access", "/access", "post"),
            ("#invitations", "/invitations", "post"),
            ("#machine-users", "/machine-users", "post"),
        ),
    ),
    ("manage_variables", (("#manage-variables", "/variables", "post"),)),
)


def project_view(
    project: Project, grants: ProjectGrants, base_url: str, ssh_port: int | None = None
) -> dict[str, Any]:
    """A project as Platform.sh shows it, with links the caller may follow.

    ``repository.url`` is the SSH remote when SSH is on (Platform.sh's shape); the
    HTTPS remote is always the ``git`` link.
    """
    self_path = project_path(project.id)
    ssh_url, https_url = git_urls(project.id, base_url, ssh_port)
    links: dict[str, Any] = {rel: {"href": self_path + suffix} for rel, suffix in _PROJECT_LINKS}
    links["git"] = {"href": https_url}
    for action, operations in _PROJECT_OPERATIONS:
        if grants.can_project(action):
            for rel, suffix, method in operations:
                links[rel] = link(self_path + suffix, method)
    return {
        "id": project.id,
        "title": project.title,
        "description": project.description,
        "owner": project.owner_id,
        "namespace": "homeport",
        "organization": None,
        "default_branch": project.default_branch,
        "region": project.region,
        "timezone": project.timezone,
        "status": {"code": "provisioned", "message": "ok"},
        "attributes": dict(project.attributes or {}),
        "repository": {"url": ssh_url or https_url, "client_ssh_key": None},
        "default_domain": None,
        "subscription": _SUBSCRIPTION,
        "vendor": "homeport",
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "endpoint": f"{base_url}{self_path}",
        "_links": links,
    }


def primary_url(routes: dict[str, Any]) -> str | None:
    """The URL of the primary route (else the first upstream, else the first)."""
    if not routes:
        return None
    for url, route in routes.items():
        if route.get("primary"):
            return url
    upstreams = [u for u, r in routes.items() if r.get("type") == "upstream"]
    return (upstreams or list(routes))[0]


# An environment's ``#`` operations: (rel, policy action, path suffix, method, whether
# the environment's (status, is_main, type) allows it). Merge and sync are apart: they
# also depend on the parent.
_ENV_OPERATIONS: tuple[tuple[str, str, str, str, Callable[[str, bool, str], bool]], ...] = (
    ("#edit", "edit", "", "patch", lambda status, main, kind: status != "deleting"),
    (
        "#delete",
        "delete",
        "",
        "delete",
        lambda status, main, kind: status == "inactive" and not main,
    ),
    ("#activate", "activate", "/activate", "post", lambda status, main, kind: status == "inactive"),
    (
        "#deactivate",
        "deactivate",
        "/deactivate",
        "post",
        lambda status, main, kind: status in ("active", "paused") and not main,
    ),
    ("#redeploy", "redeploy", "/redeploy", "post", lambda status, main, kind: status == "active"),
    ("#deploy", "redeploy", "/deploy", "post", lambda status, main, kind: status == "active"),
    ("#pause", "pause", "/pause", "post", pausable),
    ("#resume", "resume", "/resume", "post", lambda status, main, kind: status == "paused"),
)
# Those listed after the sync, route and SSH links (clients see the same order as ever).
_ENV_OPERATIONS_LAST: tuple[tuple[str, str, str, str, Callable[[str, bool, str], bool]], ...] = (
    ("#backup", "backup", "/backup", "post", lambda status, main, kind: status == "active"),
    ("#manage-variables", "manage_variables", "/variables", "post", lambda *_: True),
)
_Ops = tuple[tuple[str, str, str], ...]
_SYNC_OPERATIONS = (("#merge", "merge"), ("#synchronize", "synchronize"))
# Types a new environment may be branched as: one reachable is enough for ``#branch``.
_CHILD_TYPES = ("development", "staging")


class ListRights:
    """The caller's policy answers, asked once per question for a whole list.

    A list of 500 environments holds a handful of (type, state) pairs but would ask
    about twenty questions per row; the answers depend only on the grants and the
    question, so each is asked once and the links are then built from plain tuples.
    """

    def __init__(self, grants: ProjectGrants) -> None:
        self.grants = grants
        self._env: dict[tuple[str, str], bool] = {}
        self._ssh: dict[tuple[str, str | None], bool] = {}
        self._operations: dict[tuple[str, bool, str], tuple[_Ops, _Ops]] = {}

    def env(self, action: str, env_type: str) -> bool:
        """``grants.can_env(action, env_type)``, remembered."""
        key = (action, env_type)
        found = self._env.get(key)
        if found is None:
            found = self._env[key] = self.grants.can_env(action, env_type)  # type: ignore[arg-type]
        return found

    def ssh(self, env_type: str, minimum_role: str | None) -> bool:
        """``grants.can_ssh(env_type, minimum_role)``, remembered."""
        key = (env_type, minimum_role)
        found = self._ssh.get(key)
        if found is None:
            found = self._ssh[key] = self.grants.can_ssh(env_type, minimum_role)
        return found

    def operations(self, env: Environment) -> tuple[_Ops, _Ops]:
        """(rel, path suffix, method) of each ``#`` operation the caller may run on
        ``env`` in its state: those shown first, and those shown last (``#branch``
        included); merge and sync are the caller's."""
        key = (env.status, env.is_main, env.type)
        found = self._operations.get(key)
        if found is None:
            status, main, kind = key
            first, last = (
                [
                    (rel, suffix, method)
                    for rel, action, suffix, method, state_ok in table
                    if state_ok(status, main, kind) and self.env(action, kind)
                ]
                for table in (_ENV_OPERATIONS, _ENV_OPERATIONS_LAST)
            )
            # At least one child type must be reachable for the link to make sense.
            if status == "active" and any(
                self.env("branch", kind) and self.env("branch", child) for child in _CHILD_TYPES
            ):
                last.append(("#branch", "/branch", "post"))
            found = self._operations[key] = (tuple(first), tuple(last))
        return found


def environment_view(
    env: Environment,
    grants: ProjectGrants,
    routes: dict[str, Any] | None = None,
    *,
    apps: Mapping[str, str | None] | None = None,
    ssh: str | None = None,
    parent: Environment | None = None,
    rights: ListRights | None = None,
) -> dict[str, Any]:
    """An environment with the ``#`` operations its state and the caller allow;
    ``routes`` (of its current deployment) fill `public-url` and `pf:routes`, its
    ``apps`` (see ``ssh_access``) the SSH links when ``ssh`` (the endpoint) is on.
    A list passes one ``rights`` for all its rows."""
    rights = rights or ListRights(grants)
    self_path = env_path(env.project_id, env.name)
    activities_path = f"{self_path}/activities"
    links: dict[str, Any] = {
        "self": {"href": self_path},
        "project": {"href": project_path(env.project_id)},
        "#activities": {"href": activities_path},
        "activities": {"href": activities_path},
        "backups": {"href": f"{self_path}/backups"},
        "#variables": {"href": f"{self_path}/variables"},
    }
    active = env.status == "active"
    first, last = rights.operations(env)
    for rel, suffix, method in first:
        links[rel] = link(self_path + suffix, method)
    # Merge and sync need the parent in hand (its state and type); lists pass it.
    if parent is not None and env_sync.state_problem(env, parent, "") is None:
        for rel, action in _SYNC_OPERATIONS:
            if rights.env(action, env.type) and rights.env(action, parent.type):
                links[rel] = link(f"{self_path}/{action}", "POST")
    if routes and active:
        links["public-url"] = {"href": primary_url(routes)}
        links["pf:routes"] = [{"href": url} for url in routes]
        links["#routes"] = {"href": f"{self_path}/routes"}
        links["#deployments"] = {"href": f"{self_path}/deployments"}
    if apps and ssh and active:
        links.update(ssh_links(env, rights, apps, ssh))
    for rel, suffix, method in last:
        links[rel] = link(self_path + suffix, method)
    updated_at = iso(env.updated_at)
    return {
        "id": env.name,
        "name": env.name,
        "machine_name": env.machine_name,
        "title": env.title,
        "type": env.type,
        "status": env.status,
        "parent": env.parent,
        "project": env.project_id,
        "is_main": env.is_main,
        "is_dirty": env.status == "dirty",
        "is_pr": False,
        "has_code": env.has_code,
        "has_remote": False,
        "has_domains": False,
        "has_deployment": bool(routes) or env.last_deployment_at is not None,
        "head_commit": env.head_commit,
        "clone_parent_on_create": env.clone_parent_on_create,
        "deployment_target": "local",
        "default_domain": None,
        "edge_hostname": "",
        "sizing": None,
        "resources_overrides": {},
        "max_instance_count": None,
        "attributes": dict(env.attributes or {}),
        "http_access": {"is_enabled": True, "addresses": [], "basic_auth": {}},
        "enable_smtp": False,
        "restrict_robots": True,
        "deployment_state": {
            "last_deployment_successful": bool(env.last_deployment_successful),
            "last_deployment_at": iso(env.last_deployment_at),
            "last_autoscale_up_at": None,
            "last_autoscale_down_at": None,
            "crons": {"enabled": True, "status": "running" if active else "paused"},
        },
        "needs_redeploy": env.needs_redeploy,
        "last_active_at": updated_at,
        "last_backup_at": iso(env.last_backup_at),
        "has_staged_activities": False,
        "can_rolling_deploy": False,
        "supports_restrict_robots": True,
        "merge_info": {"commits_ahead": 0, "commits_behind": 0, "parent_ref": None},
        "created_at": iso(env.created_at),
        "updated_at": updated_at,
        "_links": links,
    }


def activity_view(activity: Activity, can_cancel: bool = False) -> dict[str, Any]:
    """An activity; ``#cancel`` appears while it can be cancelled by the caller."""
    base = f"{project_path(activity.project_id)}/activities/{activity.id}"
    links: dict[str, Any] = {"self": link(base), "log": link(f"{base}/log")}
    if can_cancel and is_cancellable(activity, CANCELLABLE_TYPES):
        links["#cancel"] = link(f"{base}/cancel", "POST")
    return {
        "id": activity.id,
        "type": activity.type,
        "project": activity.project_id,
        "environments": list(activity.environments),
        "state": activity.state,
        "result": activity.result,
        "completion_percent": activity.completion_percent,
        "parameters": dict(activity.parameters),
        "payload": dict(activity.payload),
        "description": activity.description,
        "text": activity.text,
        "log": "",
        "timings": dict(activity.timings or {}),
        "commands": [],
        "created_at": iso(activity.created_at),
        "updated_at": iso(activity.updated_at),
        "started_at": iso(activity.started_at),
        "completed_at": iso(activity.completed_at),
        "cancelled_at": iso(activity.cancelled_at),
        "expires_at": None,
        "_links": links,
    }
