"""The local runtime: builds, deploys and serves environments on this machine.

One object per server process that owns the data dir: the `local` driver of
runtime/driver.py's `RuntimeDriver`, whose docstrings give the contract. The worker
calls `deploy`/`stop`/`run_cron` from activities; `homeport serve` calls `start`
(which brings back what was deployed) and `shutdown`.
"""

from __future__ import annotations

import fcntl
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.git.repos import branch_head, repo_path
from homeport.runtime import records
from homeport.runtime.app_env import AppEnvironments, AppRun, Place
from homeport.runtime.appconfig import ConfigError, ProjectConfig, expand_routes
from homeport.runtime.build import Builder, BuildInputs, BuildLog
from homeport.runtime.contract import (
    APP_DIR,
    SOCKET_PATH,
    with_environment_file,
)
from homeport.runtime.driver_types import CronNotFound, CronRun, DeployFailed
from homeport.runtime.processes import StepFailed, run, stoppable
from homeport.runtime.repo_config import load_commit_config
from homeport.runtime.router import RouteEntry, Router, RouterError
from homeport.runtime.sandbox import Sandbox, SandboxUnavailable
from homeport.runtime.supervisor import ProcessSpec, RotatingLog, Supervisor
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Deployment

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 3600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalRuntime:
    """Builds with bubblewrap, supervises processes, and keeps the router's table."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.mode = settings.sandbox
        self.dir = settings.runtime_dir
        self.builder = Builder(self.dir, self.mode, float(settings.build_timeout))
        self.apps = AppEnvironments(settings, db)
        self.supervisor = Supervisor()
        self.router: Router | None = None
        self._lock = threading.Lock()  # ports, the router table, removing builds
        self._owner: IO[str] | None = None
        self._ports: dict[tuple[str, str, str], int] = {}
        self._router_entries: list[RouteEntry] | None = None

    # --- lifecycle --------------------------------------------------------------------

    def acquire(self) -> bool:
        """Become the one process that runs apps on this data dir (False: another is)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.dir / "owner.lock", "a+")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._owner = fh
        return True

    def start(self) -> None:
        """Start the supervisor and the router, then bring back every deployment."""
        self.supervisor.start()
        bind = self.settings.router_bind
        if bind is not None:
            self.router = Router(self.dir / "router", bind[0], bind[1])
            try:
                self.router.start()
            except RouterError as exc:
                log.error("router not started: %s", exc)
                self.router = None
        rows = records.active_deployments(self.db)
        for project_id, name in rows:
            try:
                self.deploy(project_id, name, lambda _line: None, kind="restore")
            except (DeployFailed, StepFailed, ConfigError, SandboxUnavailable) as exc:
                log.error("cannot bring back %s/%s: %s", project_id, name, exc)
        self.refresh_router()

    def shutdown(self) -> None:
        """Stop every app process and the router."""
        self.supervisor.shutdown()
        if self.router is not None:
            self.router.stop()

    def router_address(self) -> tuple[str, int] | None:
        """Where the router (nginx) listens, or None when it is off or did not start."""
        if self.router is None:
            return None
        return self.settings.router_bind

    def process_state(self, group: str) -> dict[str, dict[str, Any]]:
        """Each supervised process of ``group`` (``<project>/<machine name>``)."""
        return self.supervisor.state(group)

    # --- deploy -------------------------------------------------------------------------

    def deploy(
        self,
        project_id: str,
        env_name: str,
        write: Callable[[str], None],
        *,
        kind: str = "push",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Build and deploy an environment's head commit; returns False when there is
        no code. ``kind``: "push" (new code), "redeploy" (restart and post_deploy
        only) or "restore" (bring back after a restart, no hooks)."""
        with self.db.session() as session:
            project = get_project(session, project_id)
            env = envs.get_environment(session, project, env_name)
            repo = repo_path(self.settings.git_dir, project_id)
            commit = branch_head(repo, env.name)
            if commit is None:
                return False
            previous = session.scalar(select(Deployment).where(Deployment.environment_pk == env.pk))
            previous_commit = previous.commit if previous else None
            previous_keys = set((previous.processes or {}).get("builds", [])) if previous else set()
            machine, env_type, data_dir = (
                env.machine_name,
                env.type,
                envs.data_dir(self.settings.environments_dir, env),
            )
            # An app keeps its port across deploys, so the router's table stays the same.
            apps_before = (previous.processes or {}).get("apps", {}) if previous else {}
            for name, where in apps_before.items():
                if isinstance(where, dict) and isinstance(where.get("port"), int):
                    self._ports.setdefault((project_id, machine, name), where["port"])
        try:
            config = load_commit_config(repo, commit)
        except ConfigError as exc:
            write("E: Error parsing configuration files:")
            for line in str(exc).splitlines():
                write(f"    - {line}")
            raise DeployFailed(
                "E: Invalid configuration: the environment was not deployed"
            ) from None
        if config.services:
            listed = ", ".join(
                f"{name} ({spec.get('type', '?')})"
                for name, spec in sorted(config.services.items())
            )
            raise DeployFailed(f"E: services are not supported yet: {listed}")
        for warning in config.warnings:
            write(f"W: {warning}")
        if self.mode == "none":
            write("W: HOMEPORT_SANDBOX=none: this app runs unsandboxed, as the Homeport user")
        if not config.apps:
            write(f"Redeploying environment {env_name}")
            write("  No .platform.app.yaml in this commit: no application to deploy")
            return True
        for app in config.apps:
            if not app.web_commands_start:
                # Platform.sh starts PHP-FPM for PHP apps; Homeport has none yet.
                raise DeployFailed(
                    f"E: Application '{app.name}' needs web.commands.start on Homeport "
                    "(PHP-FPM is not provided), e.g. php -S 127.0.0.1:$PORT -t public"
                )
        group = f"{project_id}/{machine}"
        host = self.apps.default_host(project_id, machine)
        routes = self.apps.served_urls(expand_routes(config, host, tls=False))
        runs = self._build_all(project_id, env_name, config, repo, commit, write, cancelled)
        build_changed = {r.build.key for r in runs} != previous_keys or commit != previous_commit
        # Not under the lock: a long deploy hook here must not hold up other
        # environments (ports and the router table take the lock themselves).
        return self._launch(
            project_id,
            env_name,
            machine,
            env_type,
            data_dir,
            group,
            commit,
            config,
            runs,
            routes,
            write,
            kind,
            build_changed,
        )

    def _build_all(
        self,
        project_id: str,
        env_name: str,
        config: ProjectConfig,
        repo: Path,
        commit: str,
        write: Callable[[str], None],
        cancelled: Callable[[], bool],
    ) -> list[AppRun]:
        runs: list[AppRun] = []
        for app in config.apps:
            variables, machine = self.apps.variables(project_id, env_name, app, "build")
            scope = f":{machine}" if self.mode == "none" else ""
            facts = self.apps.facts(project_id, app, "", APP_DIR)
            result = self.builder.build(
                BuildInputs(repo, commit, app, facts, variables, scope), BuildLog(write), cancelled
            )
            runs.append(AppRun(app, result, None, None))
        return runs

    # --- launching ------------------------------------------------------------------------

    def _port_for(self, project_id: str, machine: str, app: str) -> int:
        """The app's port of its last deploy while it is free (its old process has just
        stopped), else a new one."""
        key = (project_id, machine, app)
        with self._lock:
            port = self._ports.get(key)
            taken = {p for k, p in self._ports.items() if k != key}
            if port is not None:
                with socket.socket() as s:
                    try:
                        s.bind(("127.0.0.1", port))
                    except OSError:
                        port = None
            while port is None or port in taken:
                port = _free_port()
            self._ports[key] = port
            return port

    def _wait_listening(self, run: AppRun, group: str, name: str) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            try:
                if run.socket_host is not None:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.settimeout(1)
                        s.connect(str(run.socket_host))
                else:
                    with socket.create_connection(("127.0.0.1", run.port or 0), timeout=1):
                        pass
                return
            except OSError:
                time.sleep(0.05)
        where = f"socket {SOCKET_PATH}" if run.socket_host else f"port {run.port}"
        raise DeployFailed(
            f"E: The application '{name}' did not start listening on {where} within "
            f"{self.settings.start_timeout:g} s (see `platform log app`)"
        )

    def _hook(
        self,
        sandbox: Sandbox,
        script: str,
        write: Callable[[str], None],
        sink: RotatingLog,
        title: str,
    ) -> None:
        """A deploy or post_deploy hook: its failure is logged, the deploy goes on."""
        sink.write(f"Launching hook '{title}'.")

        def line(tag: str, text: str) -> None:
            sink.write(text)
            write(f"    {'W: ' if tag == 'err' else ''}{text}")

        outcome = run(
            sandbox,
            ["dash", "-c", with_environment_file(script)],
            self.mode,
            line,
            timeout=HOOK_TIMEOUT,
        )
        if outcome.returncode != 0:
            write(f"  W: {title} failed with exit status {outcome.returncode}")
            sink.write(f"{title} failed with exit status {outcome.returncode}")

    def _launch(
        self,
        project_id: str,
        env_name: str,
        machine: str,
        env_type: str,
        data_dir: Path,
        group: str,
        commit: str,
        config: ProjectConfig,
        runs: list[AppRun],
        routes: dict[str, Any],
        write: Callable[[str], None],
        kind: str,
        build_changed: bool,
    ) -> bool:
        talk = kind != "restore"
        if talk:
            write("")
            write(f"Redeploying environment {env_name}")
            write("  Preparing deployment")
        self.supervisor.stop_group(group)
        logs_dir = self.apps.logs_dir(project_id, machine)
        app_log = RotatingLog(logs_dir / "app.log")
        deploy_log = RotatingLog(logs_dir / "deploy.log")
        post_log = RotatingLog(logs_dir / "post-deploy.log")
        processes: dict[str, Any] = {"builds": [r.build.key for r in runs], "apps": {}}
        sandboxes: dict[str, Sandbox] = {}
        place = Place(project_id, env_name, machine, env_type, data_dir)
        success = True
        try:
            for run_ in runs:
                app = run_.app
                run_dir = self.apps.run_dir(project_id, machine, app.name)
                if app.socket_family == "unix":
                    run_.socket_host = run_dir / "app.sock"
                    run_.socket_host.unlink(missing_ok=True)
                else:
                    run_.port = self._port_for(project_id, machine, app.name)
                sandbox = self.apps.app_sandbox(run_, place, routes, run_dir)
                sandboxes[app.name] = sandbox
                if talk:
                    write(f"  Opening application {app.name} and its relationships")
                if app.web_commands_start:
                    script = app.web_commands_start
                    if app.web_commands_pre_start:
                        script = f"{app.web_commands_pre_start}\n{script}"
                    spec = ProcessSpec(
                        app.name,
                        sandbox,
                        ["dash", "-c", with_environment_file(script)],
                        self.mode,
                        app_log,
                    )
                    self.supervisor.run(group, spec)
                    self._wait_listening(run_, group, app.name)
                for worker in app.workers.values():
                    name = f"{app.name}--{worker.name}"
                    spec = ProcessSpec(
                        name,
                        sandbox,
                        ["dash", "-c", with_environment_file(worker.start)],
                        self.mode,
                        RotatingLog(logs_dir / f"{name}.log"),
                    )
                    self.supervisor.run(group, spec)
                if app.web_commands_post_start and talk:
                    self._hook(sandbox, app.web_commands_post_start, write, app_log, "post_start")
                processes["apps"][app.name] = {
                    "build": run_.build.key,
                    "port": run_.port,
                    "socket": str(run_.socket_host) if run_.socket_host else None,
                }
            if talk and kind == "push" and build_changed:
                for run_ in runs:
                    if run_.app.hooks_deploy.strip():
                        write(f"  Executing deploy hook for application {run_.app.name}")
                        self._hook(
                            sandboxes[run_.app.name],
                            run_.app.hooks_deploy,
                            write,
                            deploy_log,
                            "Deploy hook",
                        )
        except DeployFailed:
            success = False
            raise
        finally:
            records.record(
                self.db,
                project_id,
                env_name,
                commit,
                config,
                [(r.app, r.build) for r in runs],
                routes,
                processes,
                success,
                talk,
            )
            self.refresh_router()
        if talk:
            write("  Opening environment")
            for run_ in runs:
                if run_.app.hooks_post_deploy.strip():
                    write(f"  Executing post deploy hook for application {run_.app.name}")
                    self._hook(
                        sandboxes[run_.app.name],
                        run_.app.hooks_post_deploy,
                        write,
                        post_log,
                        "Post-deploy hook",
                    )
            write("  Environment routes")
            for url, route in routes.items():
                if route.get("type") == "redirect":
                    write(f"    {url} redirects to {route.get('to')}")
                else:
                    write(f"    {url} is served by application `{route.get('upstream')}`")
        return True

    # --- crons ----------------------------------------------------------------------------

    def run_cron(
        self,
        project_id: str,
        env_name: str,
        app_name: str,
        cron_name: str,
        write: Callable[[str], None],
        *,
        activity_id: str = "",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> CronRun:
        """Run one cron in its app's sandbox (run-time variables, `.environment`
        sourced), its lines to ``write`` and the environment's ``cron.log``; stopped
        (its ``commands.stop``, else SIGTERM; SIGKILL after ``shutdown_timeout``) when
        ``cancelled()`` or past its ``timeout``."""
        deployed = self.apps.deployed(project_id, env_name, app_name)
        job = deployed.app.crons.get(cron_name)
        if job is None:
            raise CronNotFound(
                f"The deployed configuration of '{app_name}' has no cron {cron_name}."
            )
        cron_log = RotatingLog(deployed.logs_dir / "cron.log")
        cron_log.write(f"Running cron {cron_name} of {app_name} (activity {activity_id})")

        def line(_tag: str, text: str) -> None:
            cron_log.write(text)
            write(text)

        stop = with_environment_file(job.stop) if job.stop else None
        outcome = run(
            deployed.sandbox,
            stoppable(with_environment_file(job.start), stop),
            self.mode,
            line,
            timeout=float(job.timeout),
            cancelled=cancelled,
            grace=float(job.shutdown_timeout),
        )
        if outcome.cancelled:
            cron_log.write(f"Cron {cron_name} cancelled")
        elif outcome.timed_out:
            cron_log.write(f"Cron {cron_name} stopped: it ran longer than {job.timeout} s")
        elif outcome.returncode != 0:
            cron_log.write(f"Cron {cron_name} failed with exit status {outcome.returncode}")
        else:
            cron_log.write(f"Cron {cron_name} completed")
        return CronRun(outcome.returncode, job.timeout, outcome.timed_out, outcome.cancelled)

    # --- stopping and the router ------------------------------------------------------

    def stop(self, project_id: str, env_name: str) -> None:
        """Stop an environment's processes and forget its deployment (deactivation)."""
        machine = records.forget(self.db, project_id, env_name)
        self.supervisor.stop_group(f"{project_id}/{machine}")
        self.refresh_router()

    def remove_unused_builds(self) -> int:
        """Delete builds that no deployment uses."""
        in_use = records.builds_in_use(self.db)
        with self._lock:
            return self.builder.remove_unused(in_use)

    def refresh_router(self) -> None:
        """Give the router the routes of every deployment."""
        if self.router is None:
            return
        with self._lock:
            entries = records.router_entries(self.db)
            if entries == self._router_entries:
                return  # a redeploy on the same ports: nothing for nginx to reload
            try:
                self.router.update(entries)
                self._router_entries = entries
            except RouterError as exc:
                log.error("router update refused: %s", exc)
