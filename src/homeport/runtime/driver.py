"""The runtime as a driver: what the rest of Homeport asks of whatever runs the apps.

The worker (deploy and cron activities) and the server (lifecycle, the console's
process list) hold a `RuntimeDriver`, never a concrete runtime class; only
`make_driver` names one. Today there is one driver, ``local`` (`LocalRuntime`:
bubblewrap sandboxes, supervised processes, an nginx router on this machine), chosen
by ``HOMEPORT_RUNTIME_DRIVER``. docs/scaling.md sketches a Kubernetes driver against
the same methods.

Every method is called from worker threads of one process, several at once but never
two for the same environment at once (one activity at a time per environment).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from homeport.runtime.app_env import NotDeployed
from homeport.runtime.driver_types import CronNotFound, CronRun, DeployFailed
from homeport.runtime.local import LocalRuntime
from homeport.runtime.processes import StepFailed
from homeport.runtime.sandbox import SandboxUnavailable
from homeport.settings import RUNTIME_DRIVERS, Settings, SettingsError, unknown_driver
from homeport.store.db import Database

__all__ = [
    "CRON_ERRORS",
    "DEPLOY_ERRORS",
    "DRIVERS",
    "CronNotFound",
    "CronRun",
    "DeployFailed",
    "NotDeployed",
    "RuntimeDriver",
    "make_driver",
]

# What `deploy` may raise for a deploy that failed (each message is written for the
# activity log); anything else is a bug and fails the activity as an internal error.
DEPLOY_ERRORS: tuple[type[Exception], ...] = (DeployFailed, StepFailed, SandboxUnavailable)
# What `run_cron` may raise when the cron cannot run (messages for the activity log).
CRON_ERRORS: tuple[type[Exception], ...] = (NotDeployed, CronNotFound, SandboxUnavailable)


@runtime_checkable
class RuntimeDriver(Protocol):
    """Runs the apps of deployed environments: builds, processes, routes, crons."""

    # --- lifecycle (server.py: `homeport serve` and `homeport worker`) ----------------

    def acquire(self) -> bool:
        """Become the one process that runs this installation's apps; False when another
        process already does (it then keeps running them and this one must not call
        anything else). Does not block; holding lasts for the process's life."""
        ...

    def start(self) -> None:
        """Start serving (the router included) and bring back every deployment recorded
        as active, without hooks. A deployment that cannot come back is logged as an
        error and skipped; nothing raises. Called once, after `acquire`."""
        ...

    def shutdown(self) -> None:
        """Stop every app process and the router (this process is exiting). Deployment
        records stay, so the next `start` brings them back."""
        ...

    def router_address(self) -> tuple[str, int] | None:
        """Where the router serves the environments' routes, or None when there is no
        router (turned off, or it failed to start: that was logged)."""
        ...

    def process_state(self, group: str) -> dict[str, dict[str, Any]]:
        """The processes of one environment, ``group`` being ``<project id>/<machine
        name>``: name -> ``{"state": "running" | "restarting", "restarts": n}``. Empty
        for an environment with nothing running. Read-only and cheap (the console calls
        it per page view)."""
        ...

    # --- activities (worker/deploy_tasks.py, worker/cron_tasks.py) --------------------

    def deploy(
        self,
        project_id: str,
        env_name: str,
        write: Callable[[str], None],
        *,
        kind: str = "push",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Build and run the environment's head commit, replacing what ran before, and
        record the deployment (its apps, builds, routes) for the router, crons and
        shells. False when the branch has no commit yet (nothing done).

        ``kind``: "push" (new code: build, start, the deploy hook when the build
        changed, then post_deploy), "activate" (a new or re-activated environment:
        build, start, post_deploy), "redeploy" (restart and post_deploy) or "restore"
        (bring back after a restart: no hooks, nothing written). ``write`` gets the
        activity's log lines; ``cancelled()`` is polled during long steps.
        Idempotent: deploying the same commit again reuses its builds and keeps each
        app's address.

        Raises one of `DEPLOY_ERRORS` when the deploy failed (a failing hook does not
        fail it: it is written as a warning); the deployment is then recorded as
        unsuccessful."""
        ...

    def stop(self, project_id: str, env_name: str) -> None:
        """Stop the environment's processes, take its routes off the router and forget
        its deployment (so no cron or shell finds it). The environment's data and the
        builds stay. Idempotent: stopping an environment with nothing running is fine."""
        ...

    def remove_unused_builds(self) -> int:
        """Delete the builds no recorded deployment uses; how many went. Safe at any
        time (builds in use are never touched)."""
        ...

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
        """Run one cron of the deployed app to its end, with the app's run-time
        environment. Its output goes to ``write`` and the environment's ``cron.log``
        (with a first line naming ``activity_id`` and a last one saying how it ended).
        Stopped gracefully (``commands.stop`` or SIGTERM, killed after its
        ``shutdown_timeout``) when ``cancelled()`` or past its ``timeout``; how it ended
        is in the `CronRun`, a non-zero exit is not an exception.

        Raises `NotDeployed` (the environment is not active or the app not deployed),
        `CronNotFound` (the deployed configuration has no such cron), or another of
        `CRON_ERRORS` when it cannot start."""
        ...


# The drivers ``HOMEPORT_RUNTIME_DRIVER`` may name (settings.RUNTIME_DRIVERS lists the
# same names, for the settings to refuse others at start).
DRIVERS: dict[str, Callable[[Settings, Database], RuntimeDriver]] = {"local": LocalRuntime}


def make_driver(settings: Settings, db: Database) -> RuntimeDriver:
    """The driver ``settings.runtime_driver`` names, constructed but not acquired or
    started (the caller does both)."""
    factory = DRIVERS.get(settings.runtime_driver)
    if factory is None or settings.runtime_driver not in RUNTIME_DRIVERS:
        raise SettingsError(unknown_driver(settings.runtime_driver, sorted(DRIVERS)))
    return factory(settings, db)


if TYPE_CHECKING:
    # mypy checks here that the bubblewrap driver has every method of the contract.
    _local_is_a_driver: type[RuntimeDriver] = LocalRuntime
