"""The worker: atomic claims, one activity per environment, failures, crash recovery."""

from __future__ import annotations

import subprocess
import sys

import pytest

from homeport.domain import activities as acts
from homeport.store.models import Activity
from homeport.worker.context import ActivityContext, TaskFailed
from homeport.worker.runner import Worker
from tests.helpers import Api


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


def pending(api: Api, pid: str, env: str, type_: str = "test.kind") -> str:
    with api.state.db.session(write=True) as s:
        return acts.record(
            s,
            project_id=pid,
            type=type_,
            actor=None,
            phrase=acts.Phrase().add("x"),
            environments=[env],
            pending=True,
            queue_key=f"{pid}:{env}",
        ).id


def state_of(api: Api, pid: str, aid: str) -> tuple[str, str | None]:
    with api.state.db.session() as s:
        row = acts.get_activity(s, pid, aid)
        return row.state, row.result


def test_one_activity_per_environment_at_a_time(api: Api, pid: str) -> None:
    first = pending(api, pid, "main")
    second = pending(api, pid, "main")
    other = pending(api, pid, "dev")
    w1 = Worker(api.state.db, api.state.settings, {})
    w2 = Worker(api.state.db, api.state.settings, {})
    claimed = w1.claim()
    assert claimed is not None and claimed.id == first
    # The second worker skips main (busy) and takes dev.
    next_claim = w2.claim()
    assert next_claim is not None and next_claim.id == other
    assert w2.claim() is None
    assert state_of(api, pid, second) == ("pending", None)


def test_handler_results(api: Api, pid: str) -> None:
    def ok(ctx: ActivityContext) -> None:
        ctx.log("working")
        ctx.progress(50)
        ctx.set_payload(backup_name="b1")

    def boom(ctx: ActivityContext) -> None:
        raise FileNotFoundError(2, "No such file or directory", "/var/secret/path")

    def refused(ctx: ActivityContext) -> None:
        raise TaskFailed("The environment is no longer active.")

    handlers = {"t.ok": ok, "t.boom": boom, "t.refused": refused}
    worker = Worker(api.state.db, api.state.settings, handlers)
    a = pending(api, pid, "main", "t.ok")
    b = pending(api, pid, "main", "t.boom")
    c = pending(api, pid, "main", "t.unknown")
    d = pending(api, pid, "main", "t.refused")
    while worker.run_once():
        pass
    assert state_of(api, pid, a) == ("complete", "success")
    assert state_of(api, pid, b) == ("complete", "failure")
    assert state_of(api, pid, c) == ("complete", "failure")
    with api.state.db.session() as s:
        row = acts.get_activity(s, pid, a)
        assert row.payload["backup_name"] == "b1" and row.completion_percent == 100
        log = "".join(line.message for line in acts.log_lines(s, row.pk))
        assert "working" in log
        failed = acts.get_activity(s, pid, b)
        text = "".join(x.message for x in acts.log_lines(s, failed.pk))
        # Raw exception text (paths, errno) stays in the server log.
        assert "Errno" not in text and "/var/secret" not in text
        assert f"internal error stopped this activity (reference {b})" in text
        told = acts.get_activity(s, pid, d)
        assert "Failed: The environment is no longer active." in "".join(
            x.message for x in acts.log_lines(s, told.pk)
        )


def test_recovery_fails_activities_of_dead_workers_only(api: Api, pid: str) -> None:
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    worker = Worker(api.state.db, api.state.settings, {})
    orphan = pending(api, pid, "main")
    alive = pending(api, pid, "dev")
    with api.state.db.session(write=True) as s:
        for aid, owner in ((orphan, f"{worker.host}:{dead_pid}:x"), (alive, worker.ident)):
            row = s.query(Activity).filter(Activity.id == aid).one()
            row.state, row.claimed_by = "in_progress", owner
            from homeport.store.types import utcnow

            row.heartbeat_at = utcnow()
    assert worker.recover() == 1
    assert state_of(api, pid, orphan) == ("complete", "failure")
    assert state_of(api, pid, alive) == ("in_progress", None)
    with api.state.db.session() as s:
        row = acts.get_activity(s, pid, orphan)
        assert "stopped before it finished" in "".join(x.message for x in acts.log_lines(s, row.pk))


def test_cancel_running_cancellable_activity(api: Api, pid: str) -> None:
    aid = pending(api, pid, "main", "test.only.slow")
    seen: list[str] = []

    def slow(ctx: ActivityContext) -> None:
        with ctx.session() as s:
            row = s.get(Activity, ctx.activity.pk)
            assert row is not None
            acts.cancel(s, row)
        seen.append("asked")
        ctx.check_cancelled()
        seen.append("not reached")

    worker = Worker(api.state.db, api.state.settings, {"test.only.slow": slow})
    assert worker.run_once()
    assert seen == ["asked"]
    assert state_of(api, pid, aid) == ("cancelled", None)


def test_failed_branch_leaves_environment_inactive_not_dirty(
    api: Api, admin: str, pid: str
) -> None:
    from homeport.worker.tasks import clean_up_failed

    r = api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "dev"})
    assert r.json()["_embedded"]["entity"]["status"] == "dirty"

    def boom(ctx: ActivityContext) -> None:
        raise OSError("disk full")

    settings, db = api.state.settings, api.state.db
    worker = Worker(
        db,
        settings,
        {"environment.branch": boom},
        on_failed=lambda a: clean_up_failed(settings, db, a),
    )
    assert worker.run_once()
    env = api.get(f"/projects/{pid}/environments/dev", admin).json()
    assert env["status"] == "inactive"
    assert "#activate" in env["_links"] and "#delete" in env["_links"]


def test_finish_does_not_overwrite_a_recovered_activity(api: Api, pid: str) -> None:
    """If recovery failed the activity meanwhile, the late worker's success is dropped."""
    aid = pending(api, pid, "main", "t.slow")

    def steal(ctx: ActivityContext) -> None:
        with ctx.session() as s:
            row = s.get(Activity, ctx.activity.pk)
            assert row is not None
            row.state, row.result, row.claimed_by = "complete", "failure", "someone-else"

    worker = Worker(api.state.db, api.state.settings, {"t.slow": steal})
    assert worker.run_once()
    assert state_of(api, pid, aid) == ("complete", "failure")
