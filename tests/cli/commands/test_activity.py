"""`activity:*` commands, paging and log streaming."""

from __future__ import annotations

from ..conftest import Cli
from ..fake_api import FakeApiServer

P = ("-p", "proj1")


def test_list_env_and_project(cli: Cli) -> None:
    env = cli("act", *P, "-e", "main")
    assert env.code == 0
    assert "Activities on the project Demo Project (proj1), environment Main (main):" in env.err
    assert "act3" in env.out and "act1" in env.out and "act2" not in env.out
    assert "Environment(s)" not in env.out
    project = cli("activities", *P, "--all")
    assert "Environment(s)" in project.out and "act2" in project.out
    assert project.err.endswith("\n\nFor more information, run: platform activity:list -h\n")


def test_list_timing_column_titles(cli: Cli) -> None:
    result = cli("act", *P, "-a", "--format", "csv", "-c", "id,time_%")
    assert result.out.splitlines()[0] == (
        "ID,Exec time (s),Wait time (s),Build time (s),Deploy time (s)"
    )


def test_type_filters(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("act", *P, "-a", "-t", "cron", "--format", "plain", "--no-header", "-c", "id")
    assert result.out == "act3\n"
    query = fake.calls("GET", "/projects/proj1/activities")[-1].query
    assert query["type"] == ["environment.cron"]
    excluded = cli("act", *P, "-a", "-x", "cron", "--format", "plain", "--no-header", "-c", "id")
    assert excluded.out == "act4\nact2\nact1\n"
    sent = fake.calls("GET", "/projects/proj1/activities")[-1].query["type"]
    assert "environment.cron" not in sent and "environment.redeploy" in sent
    unknown = cli("act", *P, "-a", "-t", "custom.thing")
    assert "Unrecognized activity type to include: custom.thing" in unknown.err


def test_state_and_result_filters(cli: Cli, fake: FakeApiServer) -> None:
    fake.add_activity(
        "proj1", "environment.redeploy", env_id="main", state="in_progress", result=None
    )
    result = cli("act", *P, "-a", "-i", "--result", "success")
    assert result.code == 1
    assert result.err.strip() == "No activities found"
    query = fake.calls("GET", "/projects/proj1/activities")[-1].query
    assert query["state"] == ["in_progress", "pending"]
    assert query["result"] == ["success"]
    running = cli(
        "act", *P, "-a", "--state", "in_progress", "--format", "csv", "-c", "state,result"
    )
    assert running.out == "State,Result\nin progress,\n"


def test_paging_with_starts_at(cli: Cli, fake: FakeApiServer) -> None:
    fake.page_size = 2
    result = cli("act", *P, "-a", "--limit", "10", "--format", "plain", "--no-header", "-c", "id")
    assert result.out == "act4\nact3\nact2\nact1\n"
    calls = fake.calls("GET", "/projects/proj1/activities")
    assert [c.query.get("starts_at") for c in calls] == [
        None,
        ["2023-12-03T10:00:00+00:00"],
        ["2023-12-02T10:00:00+00:00"],
        ["2023-12-01T10:00:00+00:00"],
    ]
    assert all(c.query["count"] == ["10"] for c in calls)
    limited = cli("act", *P, "-a", "--limit", "3", "--format", "plain", "--no-header", "-c", "id")
    assert limited.out == "act4\nact3\nact2\n"
    table = cli("act", *P, "-a", "--limit", "3")
    assert "More activities may be available." in table.err


def test_get(cli: Cli) -> None:
    assert cli("activity:get", "act2", *P, "-P", "state").out == "complete\n"
    assert cli("activity:get", *P, "-e", "main", "-P", "id").out == "act3\n"
    by_prefix = cli("activity:get", "act", *P, "-a", "-P", "id")
    assert by_prefix.code == 1 and "Activity not found: act" in by_prefix.err
    table = cli("activity:get", "act1", *P)
    assert "| type               | environment.variable.create" in table.out


def test_log_of_a_finished_activity(cli: Cli) -> None:
    result = cli("activity:log", "act2", *P)
    assert result.code == 0
    assert result.out == "Log line 1.1\nLog line 1.2\n"
    assert result.err.startswith("Activity ID: act2\nType: environment.branch\n")
    assert "State: complete\nLog:\n" in result.err
    stamped = cli("activity:log", "act2", *P, "-t", "--date-fmt", "H:i")
    assert stamped.out == "[10:00] Log line 1.1\n[10:00] Log line 1.2\n"


def test_log_follows_a_running_activity(cli: Cli, fake: FakeApiServer) -> None:
    activity = fake.add_activity(
        "proj1",
        "environment.redeploy",
        env_id="main",
        state="in_progress",
        result=None,
        log=["one", "two", "three"],
        ticks=5,
    )
    fake.plans[activity["id"]]["result"] = "success"
    result = cli("activity:log", activity["id"], *P)
    assert result.code == 0, result
    # The stream ended before its seal twice and was re-opened: no line is repeated.
    assert result.out == "one\ntwo\nthree\n"
    logs = fake.calls("GET", f"/projects/proj1/activities/{activity['id']}/log")
    assert len(logs) >= 2
    assert logs[1].query["start_at"] == ["3"]
    no_follow = cli("activity:log", activity["id"], *P, "--refresh", "0")
    assert no_follow.out == "one\ntwo\nthree\n"


def test_cancel(cli: Cli, fake: FakeApiServer) -> None:
    running = fake.add_activity(
        "proj1", "environment.cron", env_id="main", state="pending", result=None, ticks=99
    )
    done = cli("activity:cancel", "act1", *P)
    assert done.code == 1
    assert "The activity cannot be cancelled in its current state (complete)." in done.err
    result = cli("activity:cancel", *P, "-a")
    assert result.code == 0, result
    assert f"Cancelling the activity [{running['id']}]" in result.err
    assert "The activity was successfully cancelled." in result.err
    assert running["state"] == "cancelled"
    none_left = cli("activity:cancel", *P, "-a")
    assert none_left.code == 1 and "No cancellable activities found" in none_left.err
