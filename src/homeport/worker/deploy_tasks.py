"""The runtime's side of activities: build and deploy on push, activation and branch,
restart on redeploy, stop on deactivation and pause."""

from __future__ import annotations

import threading
import time

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.runtime.driver import DEPLOY_ERRORS, RuntimeDriver
from homeport.store.models import Activity
from homeport.worker.context import ActivityContext, Cancelled, TaskFailed

# Activity types that start or stop app processes: only a worker with a runtime runs them.
RUNTIME_TYPES = frozenset(
    {
        "environment.push",
        "environment.redeploy",
        "environment.activate",
        "environment.branch",
        "environment.deactivate",
        "environment.pause",
        "environment.resume",
        "environment.restore",
        "environment.cron",
        "environment.merge",
        "environment.synchronize",
    }
)


class BatchedLog:
    """Collects output lines and appends them to the activity a few times a second:
    one database write per line of `pip install` would be the slowest part of a build."""

    def __init__(self, ctx: ActivityContext, interval: float = 0.3, max_lines: int = 200) -> None:
        self.ctx = ctx
        self.interval = interval
        self.max_lines = max_lines
        self.lines: list[str] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.sending = threading.Lock()
        self.done = threading.Event()
        # A step that goes quiet (a long silent hook) must not hold back its title.
        self.ticker = threading.Thread(target=self._tick, name="activity-log", daemon=True)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.done.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Flush what is left and stop the ticker."""
        self.done.set()
        self.ticker.join()
        self.flush()

    def write(self, line: str) -> None:
        """Queue one line; flush when enough time or lines piled up."""
        with self.lock:
            self.lines.append(line)
            due = len(self.lines) >= self.max_lines or time.monotonic() - self.last > self.interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Append what is queued (one sender at a time, so lines keep their order)."""
        with self.sending:
            with self.lock:
                lines, self.lines = self.lines, []
                self.last = time.monotonic()
            if lines:
                self.ctx.log("\n".join(lines))


def cancel_requested(ctx: ActivityContext) -> bool:
    with ctx.db.session() as session:
        row = session.get(Activity, ctx.activity.pk)
        return bool(row is not None and row.cancel_requested)


def deploy(ctx: ActivityContext, runtime: RuntimeDriver, kind: str) -> None:
    """Build and deploy the activity's environment (or say there is no code yet)."""
    with ctx.session() as session:
        project = get_project(session, ctx.activity.project_id)
        env = envs.get_environment(session, project, ctx.activity.environments[0])
        name, status = env.name, env.status
    if status != "active":
        ctx.log(f"Environment {name} is not active: nothing to deploy")
        return
    out = BatchedLog(ctx)
    try:
        deployed = runtime.deploy(
            ctx.activity.project_id,
            name,
            out.write,
            kind=kind,
            cancelled=lambda: cancel_requested(ctx),
        )
    except DEPLOY_ERRORS as exc:
        out.flush()
        if cancel_requested(ctx):
            raise Cancelled() from None
        with ctx.session() as session:
            project = get_project(session, ctx.activity.project_id)
            env = envs.get_environment(session, project, name)
            env.last_deployment_successful = False
        verb = "creation" if kind == "activate" else "redeployment"
        raise TaskFailed(f"{exc}\nEnvironment {verb} failed") from None
    finally:
        out.close()
    if not deployed:
        ctx.log(f"Redeploying environment {name}")
        ctx.log("  No code has been pushed to this environment yet: nothing to deploy")


def stop(ctx: ActivityContext, runtime: RuntimeDriver) -> None:
    """Stop the environment's app processes and take it off the router."""
    runtime.stop(ctx.activity.project_id, ctx.activity.environments[0])
    ctx.log("Stopped the application processes")
    removed = runtime.remove_unused_builds()
    if removed:
        ctx.log(f"Removed {removed} build{'s' if removed != 1 else ''} no environment uses")


def pause(ctx: ActivityContext, runtime: RuntimeDriver) -> None:
    """Stop the environment's app processes and take it off the router; its deployment
    (and so its crons) is forgotten, its data kept for the resume."""
    stop_processes(ctx, runtime, " (the data is kept)")


def stop_processes(ctx: ActivityContext, runtime: RuntimeDriver, note: str = "") -> None:
    """Stop the environment's app processes, keeping its builds for the redeploy that
    follows (a data sync, a pause)."""
    runtime.stop(ctx.activity.project_id, ctx.activity.environments[0])
    ctx.log(f"Stopped the application processes{note}")
