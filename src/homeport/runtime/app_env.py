"""What an app process sees: its sandbox (tree, mounts, logs) and its variables.

Deploys use it to start web and worker processes; crons and SSH shells use it to
run beside them, rebuilt from the environment's recorded deployment so they need
neither the deploy's state nor the process that deployed.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.domain.secretbox import SecretBox, load_keys
from homeport.domain.secrets import ServerSecrets
from homeport.domain.variables import Phase, process_environment
from homeport.git.repos import repo_path
from homeport.runtime.appconfig import AppConfig, ConfigError, ProjectConfig, expand_routes
from homeport.runtime.build import BuildResult
from homeport.runtime.contract import (
    APP_DIR,
    SOCKET_PATH,
    AppFacts,
    RuntimeFacts,
    runtime_environment,
    with_app_variables,
)
from homeport.runtime.logs import logs_dir
from homeport.runtime.repo_config import load_commit_config
from homeport.runtime.sandbox import Sandbox, prepare_writable
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Deployment

# Deployed configurations kept in memory (each is a few kB).
CONFIG_CACHE = 256


class NotDeployed(Exception):
    """Nothing of that app runs on the environment; the message says why."""


@dataclass
class AppRun:
    """One app of a deploy: its config, build, and where it listens."""

    app: AppConfig
    build: BuildResult
    port: int | None
    socket_host: Path | None


@dataclass(frozen=True)
class Place:
    """Where an environment lives: ids, type and its directories on this machine."""

    project_id: str
    env_name: str
    machine: str
    env_type: str
    data_dir: Path


@dataclass(frozen=True)
class DeployedApp:
    """A deployed app, ready to run one more process in its sandbox."""

    place: Place
    app: AppConfig
    sandbox: Sandbox
    logs_dir: Path


class AppEnvironments:
    """Builds sandboxes and variables of app processes for one data dir."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.mode = settings.sandbox
        self.dir = settings.runtime_dir
        self._box = SecretBox(load_keys(settings.secret_keys, settings.secrets_dir))
        self._entropy_key = ServerSecrets(settings.secrets_dir).derive("project-entropy")
        self._configs: dict[tuple[str, str], ProjectConfig] = {}
        self._configs_lock = threading.Lock()
        self._deployed: dict[tuple[str, str, str], tuple[tuple[Any, ...], DeployedApp]] = {}

    # --- identities and routes --------------------------------------------------------

    def entropy(self, project_id: str) -> str:
        """PLATFORM_PROJECT_ENTROPY: 56 characters, stable for the project's life."""
        return hmac.new(self._entropy_key, project_id.encode(), hashlib.sha256).hexdigest()[:56]

    def default_host(self, project_id: str, machine_name: str) -> str:
        """`{default}` of an environment."""
        return f"{machine_name}-{project_id}.{self.settings.route_domain}".lower()

    def served_urls(self, routes: dict[str, Any]) -> dict[str, Any]:
        """Routes as they are reached: with the router's port when it is not 80, so
        `PLATFORM_ROUTES` and the API name exactly the URLs served."""
        bind = self.settings.router_bind
        port = bind[1] if bind else 80
        if port == 80:
            return routes
        hosts = {urlsplit(url).hostname for url in routes}

        def served(url: str) -> str:
            parts = urlsplit(url)
            if parts.hostname not in hosts or parts.port is not None:
                return url
            return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))

        out: dict[str, Any] = {}
        for url, route in routes.items():
            route = dict(route)
            if isinstance(route.get("to"), str):
                route["to"] = served(route["to"])
            out[served(url)] = route
        return out

    def facts(self, project_id: str, app: AppConfig, tree: str, app_dir: str) -> AppFacts:
        """The build- and run-time facts of an app."""
        return AppFacts(
            project_id=project_id,
            project_entropy=self.entropy(project_id),
            app_name=app.name,
            tree_id=tree,
            app_dir=app_dir,
            api_url=self.settings.api_url,
        )

    def variables(
        self, project_id: str, env_name: str, app: AppConfig, phase: Phase
    ) -> tuple[dict[str, str], str]:
        """The user and app variables ``app`` sees in ``phase``, and the machine name."""
        with self.db.session() as session:
            project = get_project(session, project_id)
            env = envs.get_environment(session, project, env_name)
            user = process_environment(session, self._box, project, env, phase, app.name)
            return with_app_variables(app.variables, user.variables), env.machine_name

    # --- sandboxes --------------------------------------------------------------------

    def logs_dir(self, project_id: str, machine: str) -> Path:
        """Where an environment's logs (`/var/log` in its sandboxes) live."""
        path = logs_dir(self.dir, project_id, machine)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run_dir(self, project_id: str, machine: str, app: str) -> Path:
        """An app's `/run` (its Unix socket lives there)."""
        path = self.dir / "run" / project_id / machine / app
        prepare_writable(path)
        return path

    def mounts(self, data_dir: Path, app: AppConfig) -> dict[str, Path]:
        """Each `local` mount's directory in the environment's data area (so backups
        cover it); `tmp` mounts get a directory of their own outside it."""
        out: dict[str, Path] = {}
        for mount in app.mounts.values():
            if mount.source == "tmp":
                host = self.dir / "tmp" / data_dir.parent.name / app.name / mount.source_path
            else:
                host = data_dir / "mounts" / app.name / mount.source_path
            prepare_writable(host)
            out[mount.path] = host
        return out

    def _base_sandbox(self, run: AppRun, place: Place, run_dir: Path) -> tuple[Sandbox, str]:
        """The sandbox of an app's runtime processes (no variables yet), and its app
        dir as they see it."""
        mounts = self.mounts(place.data_dir, run.app)
        logs_dir = self.logs_dir(place.project_id, place.machine)
        if self.mode == "none":
            # Without a sandbox the (per-environment) build links its mounts in place.
            for rel, host in mounts.items():
                point = run.build.path / rel
                if point.is_symlink():
                    point.unlink()
                elif point.is_dir() and not any(point.iterdir()):
                    point.rmdir()
                point.parent.mkdir(parents=True, exist_ok=True)
                if not point.exists():
                    point.symlink_to(host, target_is_directory=True)
            return Sandbox(run.build.path, True), str(run.build.path)
        sandbox = Sandbox(
            run.build.path,
            False,
            mounts=mounts,
            extra_rw={"/run": run_dir},
            extra_ro={"/var/log": logs_dir},
        )
        return sandbox, APP_DIR

    def app_sandbox(
        self, run: AppRun, place: Place, routes: dict[str, Any], run_dir: Path
    ) -> Sandbox:
        """The sandbox an app's runtime processes run in, with their variables."""
        base, app_dir = self._base_sandbox(run, place, run_dir)
        socket_path: str | None = None
        if run.socket_host is not None:
            socket_path = SOCKET_PATH if self.mode != "none" else str(run.socket_host)
        app = run.app
        variables, _machine = self.variables(place.project_id, place.env_name, app, "runtime")
        facts = self.facts(place.project_id, app, run.build.tree_id, app_dir)
        facts_run = RuntimeFacts(
            branch=place.env_name,
            environment=place.machine,
            environment_type=place.env_type,
            document_root=app.document_root.replace(APP_DIR, app_dir, 1),
            routes=routes,
            port=run.port,
            socket=socket_path,
            start=app.web_commands_start,
            pre_start=app.web_commands_pre_start,
            post_start=app.web_commands_post_start,
        )
        env_vars = runtime_environment(facts, facts_run, app.raw, variables)
        return Sandbox(
            base.app_dir, base.app_writable, base.mounts, base.extra_rw, base.extra_ro, env_vars
        )

    # --- a deployed app, from its record ----------------------------------------------

    def _config(self, repo: Path, commit: str) -> ProjectConfig:
        """A commit's configuration; a commit never changes, so each is read once (a
        cron every minute would otherwise run git for it every minute)."""
        key = (str(repo), commit)
        with self._configs_lock:
            cached = self._configs.get(key)
        if cached is not None:
            return cached
        config = load_commit_config(repo, commit)
        with self._configs_lock:
            self._configs[key] = config
            while len(self._configs) > CONFIG_CACHE:
                self._configs.pop(next(iter(self._configs)))
        return config

    def deployed(self, project_id: str, env_name: str, app_name: str | None) -> DeployedApp:
        """The sandbox of a deployed app of an active environment (its only app when
        ``app_name`` is None); NotDeployed says why there is none."""
        with self.db.session() as session:
            project = get_project(session, project_id)
            env = envs.get_environment(session, project, env_name)
            if env.status != "active":
                raise NotDeployed(f"The environment {env.name} is {env.status}.")
            stamp = session.execute(
                select(Deployment.pk, Deployment.commit, Deployment.updated_at).where(
                    Deployment.environment_pk == env.pk
                )
            ).first()
            if stamp is None or not stamp.commit:
                raise NotDeployed(f"Nothing is deployed on the environment {env.name}.")
            key = (project_id, env.name, app_name or "")
            with self._configs_lock:
                cached = self._deployed.get(key)
            # The same deployment: what its processes see has not changed (variable
            # changes reach running processes, crons and shells with the next deploy).
            if cached is not None and cached[0] == tuple(stamp):
                return cached[1]
            row = session.get(Deployment, stamp.pk)
            assert row is not None
            place = Place(
                project_id,
                env.name,
                env.machine_name,
                env.type,
                envs.data_dir(self.settings.environments_dir, env),
            )
            commit, processes, document = row.commit or "", dict(row.processes), dict(row.document)
        found = self._deployed_app(place, commit, processes, document, app_name)
        with self._configs_lock:
            self._deployed[key] = (tuple(stamp), found)
            while len(self._deployed) > CONFIG_CACHE:
                self._deployed.pop(next(iter(self._deployed)))
        return found

    def _deployed_app(
        self,
        place: Place,
        commit: str,
        processes: dict[str, Any],
        document: dict[str, Any],
        app_name: str | None,
    ) -> DeployedApp:
        project_id, env_name = place.project_id, place.env_name
        apps: dict[str, Any] = processes.get("apps", {})
        if app_name is None:
            if len(apps) != 1:
                names = ", ".join(sorted(apps)) or "none"
                raise NotDeployed(f"Choose an application (deployed: {names}).")
            app_name = next(iter(apps))
        where = apps.get(app_name)
        webapp = (document.get("webapps") or {}).get(app_name)
        if not isinstance(where, dict) or not isinstance(webapp, dict):
            raise NotDeployed(f"No application '{app_name}' is deployed on {env_name}.")
        repo = repo_path(self.settings.git_dir, project_id)
        try:
            config = self._config(repo, commit)
        except ConfigError:
            raise NotDeployed(f"The deployed configuration of {env_name} is invalid.") from None
        app = config.app(app_name)
        key = where.get("build")
        path = self.dir / "builds" / str(key) / "app"
        if app is None or not key or not path.is_dir():
            raise NotDeployed(f"The build of '{app_name}' on {env_name} is gone; redeploy.")
        build = BuildResult(
            str(key),
            path,
            str(webapp.get("tree_id", "")),
            str(webapp.get("config_id", "")),
            str(webapp.get("slug_id", "")),
            True,
        )
        socket = where.get("socket")
        run = AppRun(app, build, where.get("port"), Path(socket) if socket else None)
        host = self.default_host(project_id, place.machine)
        routes = self.served_urls(expand_routes(config, host, tls=False))
        run_dir = self.run_dir(project_id, place.machine, app.name)
        sandbox = self.app_sandbox(run, place, routes, run_dir)
        return DeployedApp(place, app, sandbox, self.logs_dir(project_id, place.machine))
