"""Running one cron: `environment.cron` activities (platform-deploy.md §6).

The job runs in its app's sandbox with the run-time variables and `.environment`
sourced, its output goes to the activity log and the environment's `cron.log`, and
it is stopped (its `commands.stop`, else SIGTERM; SIGKILL after `shutdown_timeout`)
when cancelled or past its `timeout`. One activity queue per environment keeps a
cron from overlapping another cron, a deploy or a backup of that environment.
"""

from __future__ import annotations

from homeport.runtime.app_env import NotDeployed
from homeport.runtime.contract import with_environment_file
from homeport.runtime.local import LocalRuntime
from homeport.runtime.processes import run, stoppable
from homeport.runtime.sandbox import SandboxUnavailable
from homeport.runtime.supervisor import RotatingLog
from homeport.worker.context import ActivityContext, Cancelled, TaskFailed
from homeport.worker.deploy_tasks import BatchedLog, cancel_requested


def run_cron(ctx: ActivityContext, runtime: LocalRuntime) -> None:
    """Run the activity's cron to its end, or until it is stopped."""
    params = ctx.activity.parameters
    app_name, name = str(params.get("application", "")), str(params.get("cron", ""))
    try:
        deployed = runtime.apps.deployed(
            ctx.activity.project_id, ctx.activity.environments[0], app_name
        )
    except NotDeployed as exc:
        raise TaskFailed(f"{exc} The cron {name} did not run.") from None
    job = deployed.app.crons.get(name)
    if job is None:
        raise TaskFailed(f"The deployed configuration of '{app_name}' has no cron {name}.")
    cron_log = RotatingLog(deployed.logs_dir / "cron.log")
    cron_log.write(f"Running cron {name} of {app_name} (activity {ctx.activity.id})")
    out = BatchedLog(ctx)

    def line(_tag: str, text: str) -> None:
        cron_log.write(text)
        out.write(text)

    stop = with_environment_file(job.stop) if job.stop else None
    try:
        outcome = run(
            deployed.sandbox,
            stoppable(with_environment_file(job.start), stop),
            runtime.mode,
            line,
            timeout=float(job.timeout),
            cancelled=lambda: cancel_requested(ctx),
            grace=float(job.shutdown_timeout),
        )
    except SandboxUnavailable as exc:
        raise TaskFailed(str(exc)) from None
    finally:
        out.close()
    if outcome.cancelled:
        cron_log.write(f"Cron {name} cancelled")
        raise Cancelled()
    if outcome.timed_out:
        cron_log.write(f"Cron {name} stopped: it ran longer than {job.timeout} s")
        raise TaskFailed(f"The cron {name} ran longer than its timeout of {job.timeout} s.")
    if outcome.returncode != 0:
        cron_log.write(f"Cron {name} failed with exit status {outcome.returncode}")
        raise TaskFailed(f"The cron {name} exited with status {outcome.returncode}.")
    cron_log.write(f"Cron {name} completed")
