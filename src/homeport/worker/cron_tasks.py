"""Running one cron: `environment.cron` activities (platform-deploy.md §6).

The runtime driver runs the job (`RuntimeDriver.run_cron`; the local driver: in its
app's sandbox with the run-time variables and `.environment` sourced); its output goes
to the activity log and the environment's `cron.log`, and it is stopped (its
`commands.stop`, else SIGTERM; SIGKILL after `shutdown_timeout`) when cancelled or
past its `timeout`. One activity queue per environment keeps a cron from overlapping
another cron, a deploy or a backup of that environment.
"""

from __future__ import annotations

from homeport.runtime.driver import CRON_ERRORS, NotDeployed, RuntimeDriver
from homeport.worker.context import ActivityContext, Cancelled, TaskFailed
from homeport.worker.deploy_tasks import BatchedLog, cancel_requested


def run_cron(ctx: ActivityContext, runtime: RuntimeDriver) -> None:
    """Run the activity's cron to its end, or until it is stopped."""
    params = ctx.activity.parameters
    app_name, name = str(params.get("application", "")), str(params.get("cron", ""))
    out = BatchedLog(ctx)
    try:
        ended = runtime.run_cron(
            ctx.activity.project_id,
            ctx.activity.environments[0],
            app_name,
            name,
            out.write,
            activity_id=ctx.activity.id,
            cancelled=lambda: cancel_requested(ctx),
        )
    except NotDeployed as exc:
        raise TaskFailed(f"{exc} The cron {name} did not run.") from None
    except CRON_ERRORS as exc:
        raise TaskFailed(str(exc)) from None
    finally:
        out.close()
    if ended.cancelled:
        raise Cancelled()
    if ended.timed_out:
        raise TaskFailed(f"The cron {name} ran longer than its timeout of {ended.timeout} s.")
    if ended.returncode != 0:
        raise TaskFailed(f"The cron {name} exited with status {ended.returncode}.")
