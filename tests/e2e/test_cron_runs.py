"""Crons run for real: a `homeport serve` with its runtime runs an app's crons in its
sandbox as `environment.cron` activities (platform-deploy.md §6): output in the
activity log and `cron.log`, `.environment` sourced, failure on a non-zero exit, the
timeout enforced, `commands.stop` on cancel (SIGKILL after `shutdown_timeout`), one
run at a time per environment, queued behind a backup, a deploy waiting for a
running cron, and no crons once the environment is deactivated."""

from __future__ import annotations

import itertools
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import BIN, ServerProcess
from tests.e2e.test_runtime_story import git, push
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

APP = Path(__file__).resolve().parents[1] / "runtime" / "apps" / "crons"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    # Every-minute crons need the operator's lower limit (as on Platform.sh's larger plans).
    server = ServerProcess(
        tmp_path_factory.mktemp("crons") / "data", {"HOMEPORT_CRON_MIN_INTERVAL": "60"}
    ).start()
    try:
        yield Target(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def owner(target: Target) -> Person:
    return target.person("crons@example.com")


@pytest.fixture(scope="module")
def project(target: Target, owner: Person, tmp_path_factory: pytest.TempPathFactory) -> str:
    pid = target.project(owner, "Crons")
    repo = tmp_path_factory.mktemp("crons") / "app"
    shutil.copytree(APP, repo)
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-qm", "crons").returncode == 0
    output = push(target, owner, repo, pid)
    assert "Environment routes" in output or "Opening environment" in output, output
    url = f"http://t:{owner.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    assert git(repo, "push", url, "HEAD:refs/heads/feature").returncode == 0
    status, body = target.call(
        "POST", f"/projects/{pid}/environments/feature/activate", owner.token
    )
    assert status in (200, 202), body
    done = finished(target, owner, pid, body["_embedded"]["activities"][0]["id"], limit=120)
    assert done["result"] == "success", done
    return pid


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def run(target: Target, owner: Person, pid: str, name: str, env: str = "main") -> str:
    status, body = target.call(
        "POST", f"/projects/{pid}/environments/{env}/crons/{name}/run", owner.token
    )
    assert status == 200, body
    activity_id: str = body["_embedded"]["activities"][0]["id"]
    return activity_id


def activity(target: Target, owner: Person, pid: str, activity_id: str) -> dict[str, Any]:
    status, body = target.call("GET", f"/projects/{pid}/activities/{activity_id}", owner.token)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def finished(
    target: Target, owner: Person, pid: str, activity_id: str, limit: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        current = activity(target, owner, pid, activity_id)
        if current["state"] in ("complete", "cancelled"):
            return current
        time.sleep(0.1)
    raise AssertionError(f"{activity_id} never finished\n{target.server.log()[-3000:]}")


def log_of(target: Target, owner: Person, pid: str, activity_id: str) -> str:
    status, text = target.call("GET", f"/projects/{pid}/activities/{activity_id}/log", owner.token)
    assert status == 200
    return str(text)


def test_a_cron_runs_in_the_sandbox_with_its_environment(
    target: Target, owner: Person, project: str
) -> None:
    done = finished(target, owner, project, run(target, owner, project, "envfile"))
    assert done["result"] == "success", done
    log = log_of(target, owner, project, done["id"])
    assert "from .environment: sourced" in log
    assert "greeting: hello" in log
    assert done["parameters"]["cron"] == "envfile"
    assert done["parameters"]["spec"]["commands"]["start"].startswith("echo")
    assert set(done["timings"]) == {"wait", "execute"}
    # The same lines are in the environment's cron.log (`platform log cron`).
    logs = list((target.server.data_dir / "runtime" / "logs" / project).glob("main-*/cron.log"))
    assert logs and "from .environment: sourced" in logs[0].read_text()
    status, tail = target.call(
        "GET", f"/projects/{project}/environments/main/logs/cron?lines=50", owner.token
    )
    assert status == 200 and "from .environment: sourced" in str(tail), tail


def test_a_non_zero_exit_fails_the_run(target: Target, owner: Person, project: str) -> None:
    done = finished(target, owner, project, run(target, owner, project, "failing"))
    assert done["result"] == "failure"
    log = log_of(target, owner, project, done["id"])
    assert "failing" in log and "exited with status 3" in log


def test_the_timeout_stops_the_job(target: Target, owner: Person, project: str) -> None:
    started = time.monotonic()
    done = finished(target, owner, project, run(target, owner, project, "sleeper"))
    assert time.monotonic() - started < 30
    assert done["result"] == "failure"
    assert "ran longer than its timeout of 2 s" in log_of(target, owner, project, done["id"])


def wait_log(target: Target, pid: str, text: str) -> None:
    """Wait for ``text`` in the environment's cron.log (the activity log streams until
    the run ends, so a running job is watched there)."""
    deadline = time.monotonic() + 60
    root = target.server.data_dir / "runtime" / "logs" / pid
    while not any(text in p.read_text() for p in root.glob("main-*/cron.log")):
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.1)


def test_cancel_runs_the_stop_command(target: Target, owner: Person, project: str) -> None:
    activity_id = run(target, owner, project, "stoppable")
    wait_log(target, project, "started")
    status, body = target.call(
        "POST", f"/projects/{project}/activities/{activity_id}/cancel", owner.token
    )
    assert status == 200, body
    done = finished(target, owner, project, activity_id)
    assert done["state"] == "cancelled"
    log = log_of(target, owner, project, activity_id)
    # The stop command ran in the job's sandbox, and the job ended on its own.
    assert "stop command ran" in log and "stopped cleanly" in log


def test_a_job_ignoring_sigterm_is_killed_after_its_shutdown_timeout(
    target: Target, owner: Person, project: str
) -> None:
    activity_id = run(target, owner, project, "stubborn")
    wait_log(target, project, "stubborn")
    asked = time.monotonic()
    status, _ = target.call(
        "POST", f"/projects/{project}/activities/{activity_id}/cancel", owner.token
    )
    assert status == 200
    done = finished(target, owner, project, activity_id)
    assert done["state"] == "cancelled"
    assert time.monotonic() - asked < 10


def test_runs_of_one_environment_never_overlap(target: Target, owner: Person, project: str) -> None:
    ids = [run(target, owner, project, "slow") for _ in range(3)]
    runs = [finished(target, owner, project, i) for i in ids]
    assert all(r["result"] == "success" for r in runs)
    spans = sorted((when(r["started_at"]), when(r["completed_at"])) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans


def test_a_cron_waits_behind_a_backup_and_a_deploy_waits_for_a_cron(
    target: Target, owner: Person, project: str
) -> None:
    status, body = target.call(
        "POST", f"/projects/{project}/environments/main/backup", owner.token, body={"safe": False}
    )
    assert status == 200, body
    backup_id = body["_embedded"]["activities"][0]["id"]
    cron_id = run(target, owner, project, "slow")
    status, body = target.call(
        "POST", f"/projects/{project}/environments/main/redeploy", owner.token
    )
    assert status in (200, 202), body
    redeploy_id = body["_embedded"]["activities"][0]["id"]
    backup = finished(target, owner, project, backup_id)
    cron = finished(target, owner, project, cron_id)
    redeploy = finished(target, owner, project, redeploy_id, limit=120)
    assert backup["result"] == cron["result"] == redeploy["result"] == "success"
    assert when(cron["started_at"]) >= when(backup["completed_at"])
    assert when(redeploy["started_at"]) >= when(cron["completed_at"])


def test_several_schedulers_start_each_run_once(
    target: Target, owner: Person, project: str
) -> None:
    """`homeport serve` schedules, and two `homeport scheduler` processes join it on
    the same database: each minute's run of `tick` starts once per environment."""
    began = datetime.now(UTC)
    others = [
        subprocess.Popen(
            [str(BIN / "homeport"), "scheduler"],
            env=target.server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        boundary = began.replace(second=0, microsecond=0) + timedelta(minutes=1)
        time.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds()) + 5)
        assert all(p.poll() is None for p in others), "a scheduler exited"
    finally:
        for p in others:
            p.send_signal(signal.SIGTERM)
        stopped = [p.wait(timeout=20) for p in others]
    assert stopped == [0, 0]
    for env in ("main", "feature"):
        status, listed = target.call(
            "GET",
            f"/projects/{project}/environments/{env}/activities?type=environment.cron&count=200",
            owner.token,
        )
        assert status == 200, listed
        ticks = [
            a["payload"]["scheduled_for"]
            for a in listed
            if a["parameters"]["cron"] == "tick" and when(a["payload"]["scheduled_for"]) >= boundary
        ]
        assert ticks.count(boundary.isoformat()) == 1, (env, ticks)
        assert len(ticks) == len(set(ticks)), (env, ticks)


def test_crons_are_listed_and_stop_with_deactivation(
    target: Target, owner: Person, project: str
) -> None:
    base = f"/projects/{project}/environments/feature"
    status, listed = target.call("GET", f"{base}/crons", owner.token)
    assert status == 200, listed
    assert {c["name"] for c in listed} == {
        "tick",
        "slow",
        "sleeper",
        "stoppable",
        "stubborn",
        "failing",
        "envfile",
    }
    assert all(c["next_run_at"] for c in listed)
    status, env = target.call("GET", base, owner.token)
    assert env["deployment_state"]["crons"] == {"enabled": True, "status": "running"}
    status, body = target.call("POST", f"{base}/deactivate", owner.token)
    assert status in (200, 202), body
    finished(target, owner, project, body["_embedded"]["activities"][0]["id"])
    status, listed = target.call("GET", f"{base}/crons", owner.token)
    assert listed == []
    status, env = target.call("GET", base, owner.token)
    assert env["deployment_state"]["crons"]["status"] == "paused"
    status, body = target.call("POST", f"{base}/crons/slow/run", owner.token)
    assert status == 404, body
