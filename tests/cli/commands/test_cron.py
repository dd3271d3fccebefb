"""`cron:list` and `cron:run`."""

from __future__ import annotations

import pytest

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer
from ..goldens import assert_golden

PM = ("-p", "proj1", "-e", "main")


@pytest.fixture
def crons(fake: FakeApiServer) -> FakeApiServer:
    fake.add_cron(
        "proj1",
        "main",
        "app",
        "backup",
        "0 5 * * *",
        "platform backup:create --yes --no-wait",
        last_run={
            "activity": "act-prev",
            "state": "complete",
            "result": "success",
            "created_at": "2026-12-04T05:00:00+00:00",
            "started_at": "2026-12-04T05:00:02+00:00",
            "completed_at": "2026-12-04T05:00:09+00:00",
        },
        output=["Creating a backup", "Backup name: bk9"],
    )
    fake.add_cron(
        "proj1",
        "main",
        "app",
        "report",
        "*/30 * * * *",
        "php report.php",
        stop="pkill -f report.php",
        timezone="Europe/Paris",
        next_run_at="2026-12-04T10:30:00+00:00",
    )
    fake.add_cron("proj1", "main", "api", "backup", "0 6 * * *", "./dump.sh", next_run_at=None)
    return fake


def combined(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, result
    return f"{result.out}--- stderr ---\n{result.err}"


@pytest.mark.parametrize("fmt", ["table", "csv", "plain"])
def test_list_formats(cli: Cli, crons: FakeApiServer, fmt: str) -> None:
    assert_golden(f"cron_list.{fmt}", combined(cli, "cron:list", *PM, "--format", fmt))


def test_list_app_columns_and_empty(cli: Cli, crons: FakeApiServer) -> None:
    only_api = cli("crons", *PM, "-A", "api", "--format", "tsv", "--no-header")
    assert only_api.code == 0
    assert only_api.out == "backup\tapi\t0 6 * * *\tUTC\t\t\t\n"
    # The command is a column to ask for (it would crowd the default table).
    command = cli("crons", *PM, "-A", "api", "-c", "name,command", "--format", "csv")
    assert command.out == "Name,Command\nbackup,./dump.sh\n"
    columns = cli("crons", *PM, "-c", "name,stop,timeout", "--format", "csv")
    assert columns.out.splitlines() == [
        "Name,Stop command,Timeout",
        "backup,,86400",
        "report,pkill -f report.php,86400",
        "backup,,86400",
    ]
    empty = cli("cron:list", "-p", "proj1", "-e", "staging")
    assert empty.code == 0
    assert empty.out == ""
    assert empty.err == "No crons found on the environment staging.\n"
    no_app = cli("cron:list", *PM, "--app", "web")
    assert no_app.err == "No crons found on the app web on the environment Main (main).\n"


def test_run_waits_and_streams_the_log(cli: Cli, crons: FakeApiServer) -> None:
    crons.activity_ticks = 2
    result = cli("cron:run", "report", *PM)
    assert result.code == 0, result
    assert result.err.startswith("Running the cron report on the environment Main (main)\n")
    assert "Waiting for the activity:" in result.err
    assert "ran report\n" in result.err
    assert "The activity succeeded:" in result.err
    post = crons.calls("POST", "/projects/proj1/environments/main/crons/report/run")[0]
    assert post.body == b""
    table = cli("crons", *PM, "-c", "name,result,activity", "--format", "csv")
    assert "report,success,act" in table.out


def test_run_with_app_body_and_no_wait(cli: Cli, crons: FakeApiServer) -> None:
    crons.activity_ticks = 3
    result = cli("cron:run", "backup", "--app", "api", "-W", *PM)
    assert result.code == 0, result
    assert "Waiting" not in result.err
    assert "Running the cron backup of the app api on the environment Main (main)" in result.err
    assert "To follow its log, run: platform activity:log act" in result.err
    assert crons.calls("POST", ".*/crons/backup/run")[0].json() == {"application": "api"}
    pending = cli("crons", *PM, "-A", "api", "-c", "result", "--format", "plain", "--no-header")
    assert pending.out == "pending\n"


def test_run_failure_is_exit_1(cli: Cli, crons: FakeApiServer) -> None:
    crons.activity_result = "failure"
    result = cli("cron:run", "backup", "-A", "app", *PM)
    assert result.code == 1
    assert "Creating a backup\nBackup name: bk9\n" in result.err
    assert "The activity failed:" in result.err


def test_run_refusals(cli: Cli, crons: FakeApiServer) -> None:
    ambiguous = cli("cron:run", "backup", *PM)
    assert ambiguous.code == 1
    assert ambiguous.err.splitlines()[-1] == (
        "Several applications have a cron named backup (app, api): choose one."
    )
    missing = cli("cron:run", "nope", *PM)
    assert missing.code == 1
    assert missing.err.splitlines()[-1] == "Cron not found: nope"
    denied = cli("cron:run", "report", *PM, env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN})
    assert denied.code == 6
    assert denied.err.splitlines()[-1] == "You may not run crons on this environment."
    crons.add_cron("proj1", "old", "app", "sweep", "0 * * * *", "true")
    inactive = cli("cron:run", "sweep", "-p", "proj1", "-e", "old")
    assert inactive.code == 1
    assert inactive.err.splitlines()[-1] == "Crons run only on an active environment."
    no_name = cli("cron:run", *PM)
    assert no_name.code == 1 and 'Not enough arguments (missing: "name")' in no_name.err
