"""End to end: separate ``homeport worker`` processes, a SIGKILLed worker, shared queues.

The API runs with ``HOMEPORT_WORKER=0``; real ``homeport worker`` processes claim the
activities from the same SQLite database. Slow activities are the TEST-ONLY
``test.only.slow`` type (``HOMEPORT_TEST_HANDLERS=1``), inserted through the domain
layer because no API creates them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from homeport.domain.activities import Phrase, record
from homeport.store.db import Database
from homeport.store.models import Activity
from tests.e2e.server import BIN, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(120)]

T = TypeVar("T")
STOPPED_LINE = "stopped before it finished"


class Workers:
    """``homeport worker`` child processes, each logging to its own file."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.killed: set[int] = set()

    def start(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start one worker process (test handlers on) and return it."""
        path = self.server.data_dir.parent / f"worker-{len(self.procs)}.log"
        env = {**self.server.env, "HOMEPORT_TEST_HANDLERS": "1", **(extra_env or {})}
        with path.open("ab") as out:
            proc = subprocess.Popen(
                [str(BIN / "homeport"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append((proc, path))
        return proc

    def wait_started(self, timeout: float = 20) -> None:
        """Wait until every worker logged its start line (it has migrated and loops)."""
        for proc, path in self.procs:

            def started(path: Path = path) -> bool:
                self.check_alive()
                return "started" in path.read_text(errors="replace")

            wait_for(
                started,
                timeout,
                f"worker {proc.pid} to start",
                self.logs,
            )

    def kill(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGKILL one worker (no chance to clean up) and return its exit status."""
        self.killed.add(proc.pid)
        proc.kill()
        return proc.wait(timeout=10)

    def check_alive(self) -> None:
        """Fail at once when a worker we did not kill has exited."""
        for proc, _ in self.procs:
            if proc.pid not in self.killed and proc.poll() is not None:
                raise AssertionError(f"worker {proc.pid} exited early\n{self.logs()[-6000:]}")

    def logs(self) -> str:
        """Every worker's output so far."""
        return "\n".join(
            f"--- worker pid {proc.pid} (exit {proc.poll()}) ---\n"
            + (path.read_text(errors="replace") if path.exists() else "")
            for proc, path in self.procs
        )

    def kill_all(self) -> None:
        """SIGKILL whatever is still running and reap it."""
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    context: Callable[[], str] | None = None,
    interval: float = 0.05,
) -> T:
    """Poll ``check`` until it returns something truthy; fail clearly after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    extra = f"\n{context()}" if context else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")


def admin_token(server: ServerProcess) -> str:
    """An access token of the first platform admin (password grant)."""
    password = (server.data_dir / "initial-admin-password").read_text().strip()
    status, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    assert status == 200, body
    token: str = body["access_token"]
    return token


def create_project(server: ServerProcess, token: str, title: str) -> str:
    """A new project (its ``main`` environment is active at once); returns its id."""
    status, body = server.call("POST", "/projects", token, {"title": title})
    assert status == 201, body
    project_id: str = body["_embedded"]["entity"]["id"]
    return project_id


def only_activity(body: Any) -> str:
    """The id of the single activity a mutation recorded."""
    acts = body["_embedded"]["activities"]
    assert len(acts) == 1, body
    activity_id: str = acts[0]["id"]
    return activity_id


def insert_slow(
    server: ServerProcess, project_id: str, env: str, steps: int, delay: float, count: int = 1
) -> list[str]:
    """Insert ``count`` pending ``test.only.slow`` activities on one environment's queue."""
    db = Database(f"sqlite:///{server.data_dir / 'homeport.db'}")
    try:
        return insert_slow_into(db, project_id, env, steps, delay, count)
    finally:
        db.dispose()


def insert_slow_into(
    db: Database, project_id: str, env: str, steps: int, delay: float, count: int = 1
) -> list[str]:
    """``insert_slow`` on any database (the several-nodes test's PostgreSQL)."""
    with db.session(write=True) as session:
        return [
            record(
                session,
                project_id=project_id,
                type="test.only.slow",
                actor=None,
                phrase=Phrase().add("test"),
                environments=[env],
                parameters={"steps": steps, "delay": delay},
                pending=True,
                queue_key=f"{project_id}:{env}",
            ).id
            for _ in range(count)
        ]


def claimed_by(server: ServerProcess, activity_ids: list[str]) -> dict[str, str | None]:
    """Which worker (``host:pid:nonce``) claimed each activity (not exposed by the API)."""
    db = Database(f"sqlite:///{server.data_dir / 'homeport.db'}")
    try:
        with db.session() as session:
            return {
                row.id: row.claimed_by
                for row in session.query(Activity).filter(Activity.id.in_(activity_ids))
            }
    finally:
        db.dispose()


def get_activity(server: ServerProcess, token: str, project_id: str, activity_id: str) -> Any:
    """``GET /projects/{p}/activities/{id}``, asserted to answer 200."""
    status, body = server.call("GET", f"/projects/{project_id}/activities/{activity_id}", token)
    assert status == 200, body
    return body


def wait_finished(
    server: ServerProcess,
    token: str,
    project_id: str,
    activity_id: str,
    timeout: float,
    workers: Workers,
    context: Callable[[], str],
) -> Any:
    """Poll an activity until it is complete or cancelled; return its last view."""

    def finished() -> Any:
        workers.check_alive()
        body = get_activity(server, token, project_id, activity_id)
        return body if body["state"] in ("complete", "cancelled") else None

    return wait_for(finished, timeout, f"activity {activity_id} to finish", context, 0.1)


def read_log(server: ServerProcess, token: str, project_id: str, activity_id: str) -> list[Any]:
    """The whole log stream of a finished activity, one parsed item per line."""
    status, text = server.call("GET", f"/projects/{project_id}/activities/{activity_id}/log", token)
    assert status == 200, text
    if not isinstance(text, str):  # a one-line stream parses as plain JSON
        return [text]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def api_only(tmp_path: Path) -> Iterator[ServerProcess]:
    """``homeport serve`` with no in-process worker."""
    server = ServerProcess(tmp_path / "data", {"HOMEPORT_WORKER": "0"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_killed_worker_fails_its_activity_and_others_complete(api_only: ServerProcess) -> None:
    server = api_only
    token = admin_token(server)
    workers = Workers(server)

    def context() -> str:
        return f"--- server ---\n{server.log()[-4000:]}\n{workers.logs()[-6000:]}"

    try:
        alpha = create_project(server, token, "Alpha")
        beta = create_project(server, token, "Beta")
        (slow,) = insert_slow(server, alpha, "main", steps=40, delay=0.25)
        status, body = server.call("POST", f"/projects/{beta}/environments/main/redeploy", token)
        assert status == 200, body
        beta_redeploy = only_activity(body)
        status, body = server.call(
            "POST", f"/projects/{alpha}/environments/main/branch", token, {"name": "dev"}
        )
        assert status == 201, body
        alpha_branch = only_activity(body)

        first = workers.start()

        def running_a_while() -> Any:
            workers.check_alive()
            body = get_activity(server, token, alpha, slow)
            assert body["state"] in ("pending", "in_progress"), body
            # completion_percent moves right after each "step i of 40" line: >= 4 lines.
            return body if body["completion_percent"] >= 10 else None

        running = wait_for(running_a_while, 20, "the slow activity to log 4 steps", context)
        assert running["state"] == "in_progress"

        assert workers.kill(first) == -9

        # Queued behind the dead activity on the same environment: must run after recovery.
        status, body = server.call("POST", f"/projects/{alpha}/environments/main/redeploy", token)
        assert status == 200, body
        alpha_redeploy = only_activity(body)
        assert get_activity(server, token, alpha, slow)["state"] == "in_progress"

        workers.start()
        dead = wait_finished(server, token, alpha, slow, 20, workers, context)
        assert (dead["state"], dead["result"]) == ("complete", "failure"), dead
        lines = read_log(server, token, alpha, slow)
        assert lines[-1].get("seal") is True, lines[-3:]
        messages = [item["data"]["message"] for item in lines if "data" in item]
        assert "step 1 of 40\n" in messages
        assert "step 40 of 40\n" not in messages
        assert any(STOPPED_LINE in m for m in messages[-1:]), messages[-3:]
        assert not any(m.startswith("Completed in") for m in messages)

        for project_id, activity_id in (
            (beta, beta_redeploy),
            (alpha, alpha_branch),
            (alpha, alpha_redeploy),
        ):
            done = wait_finished(server, token, project_id, activity_id, 20, workers, context)
            assert (done["state"], done["result"]) == ("complete", "success"), done
        # The queue of alpha:main moved on only after the dead activity was failed.
        redeployed = get_activity(server, token, alpha, alpha_redeploy)
        assert _at(redeployed["started_at"]) >= _at(dead["completed_at"])
        status, env = server.call("GET", f"/projects/{alpha}/environments/dev", token)
        assert status == 200 and env["status"] == "active", env
    finally:
        workers.kill_all()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _overlap(a: Any, b: Any) -> bool:
    return _at(a["started_at"]) < _at(b["completed_at"]) and _at(b["started_at"]) < _at(
        a["completed_at"]
    )


def test_two_workers_one_activity_per_environment(api_only: ServerProcess) -> None:
    server = api_only
    token = admin_token(server)
    workers = Workers(server)

    def context() -> str:
        return f"--- server ---\n{server.log()[-4000:]}\n{workers.logs()[-6000:]}"

    try:
        alpha = create_project(server, token, "Alpha")
        beta = create_project(server, token, "Beta")
        # One loop per process: activities overlapping in time ran in different processes.
        for _ in range(2):
            workers.start({"HOMEPORT_WORKER_THREADS": "1"})
        workers.wait_started()

        # All of alpha's first: without the per-environment rule the two workers would
        # take alpha's first two together; with it, the second one has to take beta's.
        on_alpha = insert_slow(server, alpha, "main", steps=6, delay=0.15, count=3)
        on_beta = insert_slow(server, beta, "main", steps=6, delay=0.15, count=3)

        views: dict[str, list[Any]] = {"alpha": [], "beta": []}
        for name, project_id, ids in (("alpha", alpha, on_alpha), ("beta", beta, on_beta)):
            for activity_id in ids:
                done = wait_finished(server, token, project_id, activity_id, 25, workers, context)
                assert (done["state"], done["result"]) == ("complete", "success"), done
                views[name].append(done)

        for name, runs in views.items():
            runs.sort(key=lambda v: _at(v["started_at"]))
            for before, after in itertools.pairwise(runs):
                assert _at(before["completed_at"]) <= _at(after["started_at"]), (
                    f"two activities of {name}:main ran at once: {before} / {after}"
                )

        overlapping = [(a, b) for a in views["alpha"] for b in views["beta"] if _overlap(a, b)]
        owners = claimed_by(server, on_alpha + on_beta)
        assert overlapping, f"no activities of different environments overlapped: {views}"
        pids = {str(owner).split(":")[1] for owner in owners.values()}
        assert pids == {str(proc.pid) for proc, _ in workers.procs}, owners
    finally:
        workers.kill_all()
