"""`backup:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer

PE = ("-p", "proj1", "-e", "main")


def test_create_waits_and_prints_backup_name(cli: Cli, fake: FakeApiServer) -> None:
    fake.activity_ticks = 2
    fake.backup_name_at_creation = False
    result = cli("backup:create", "-y", *PE)
    assert result.code == 0, result
    assert result.out.startswith("Backup name: bk")
    assert result.err.startswith(
        "Creating a backup of Main (main).\n"
        "Note: this may delete an older backup if the quota has been reached.\n\n"
        "Are you sure you want to continue? [Y/n] y\n"
    )
    assert (
        "Warning: use the --no-wait (-W) option if you are running this in a cron job."
        in result.err
    )
    assert "Waiting for the activity:" in result.err
    assert "Running environment.backup\nDone\n" in result.err
    assert (post := fake.calls("POST", "/projects/proj1/environments/main/backup")[0]).json() == {
        "safe": True
    }
    assert post.headers["content-type"] == "application/json"
    name = result.out.split(": ")[1].strip()
    assert fake.backups[("proj1", "main")][0]["id"] == name


def test_create_no_wait_like_the_cron_example(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backup:create", "--yes", "--no-wait", "--live", *PE)
    assert result.code == 0
    assert "Creating a live backup of Main (main)." in result.err
    assert "Waiting" not in result.err
    assert result.out.startswith("Backup name: ")
    assert fake.calls("POST", ".*/backup")[0].json() == {"safe": False}
    fake.backup_name_at_creation = False
    fake.activity_ticks = 5
    later = cli("backup", "--yes", "--no-wait", *PE)
    assert later.code == 0 and later.out == ""


def test_create_defaults_yes_without_interaction(cli: Cli) -> None:
    result = cli("backup:create", "main", "-p", "proj1", "--no-interaction")
    assert result.code == 0
    assert "Are you sure you want to continue? [Y/n] y" in result.err


def test_create_failure_exit_1(cli: Cli, fake: FakeApiServer) -> None:
    fake.activity_result = "failure"
    fake.activity_ticks = 1
    result = cli("backup:create", "-y", *PE)
    assert result.code == 1
    assert "The activity failed:" in result.err


def test_create_not_available(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backup:create", "-y", *PE, env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN})
    assert result.code == 1
    assert "Operation not available: cannot create a backup of Main (main)" in result.err
    assert "You must be an administrator to create a backup." in result.err
    inactive = cli("backup:create", "-y", "-p", "proj1", "-e", "old")
    assert "The environment is not active." in inactive.err
    assert fake.calls("POST", ".*/backup") == []


def test_list(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backups", "-c", "+automated,commit_id", *PE)
    assert result.code == 0
    assert result.out.splitlines()[1] == (
        "| Created                   | Backup ID | Restorable | Automated | Commit ID |"
    )
    empty = cli("backups", "-p", "proj1", "-e", "staging")
    assert empty.code == 1
    assert empty.err.strip() == "No backups found"


def test_get(cli: Cli) -> None:
    assert cli("backup:get", "bk-old", "-P", "restorable", *PE).out == "true\n"
    latest = cli("backup:get", "-P", "id", *PE)
    assert latest.out == "bk-new\n"
    dated = cli("backup:get", "bk-old", "-P", "created_at", "--date-fmt", "Y-m-d", *PE)
    assert dated.out == "2024-01-01\n"
    missing = cli("backup:get", "nope", *PE)
    assert missing.code == 1 and "Backup not found: nope" in missing.err


def test_restore(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backup:restore", "-y", *PE)
    assert result.code == 0, result
    assert "Backup ID: bk-new" in result.err
    assert "Are you sure you want to restore this backup? [Y/n] y" in result.err
    assert "Restoring backup bk-new to main" in result.err
    assert fake.calls("POST", ".*/backups/bk-new/restore")[0].json() == {}
    other = cli(
        "backup:restore",
        "bk-old",
        "--target",
        "copy",
        "--branch-from",
        "staging",
        "--no-code",
        "-y",
        *PE,
    )
    assert other.code == 0, other
    assert "Original environment: main" in other.err
    assert "restore this backup to the environment copy?" in other.err
    assert fake.calls("POST", ".*/backups/bk-old/restore")[0].json() == {
        "environment_name": "copy",
        "branch_from": "staging",
        "restore_code": False,
    }


def test_restore_refusals(cli: Cli, fake: FakeApiServer) -> None:
    broken = cli("backup:restore", "bk-broken", "-y", *PE)
    assert broken.code == 1
    assert "The backup bk-broken cannot be restored" in broken.err
    bad_parent = cli("backup:restore", "bk-old", "--branch-from", "nope", "-y", *PE)
    assert "Environment not found (in --branch-from): nope" in bad_parent.err
    assert fake.calls("POST", ".*/restore") == []


def test_delete(cli: Cli, fake: FakeApiServer) -> None:
    needs_id = cli("backup:delete", "-y", *PE)
    assert needs_id.code == 1
    assert "A backup ID is required in non-interactive mode." in needs_id.err
    result = cli("backup:delete", "bk-old", "-y", *PE)
    assert result.code == 0
    assert (
        "Are you sure you want to delete the backup bk-old (2024-01-01T09:00:00+00:00)? [Y/n] y"
        in result.err
    )
    assert "The backup bk-old (2024-01-01T09:00:00+00:00) has been deleted." in result.err
    assert [b["id"] for b in fake.backups[("proj1", "main")]] == ["bk-new", "bk-broken"]


def test_delete_interactive_choice(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backup:delete", *PE, stdin="1\ny\n", tty=True)
    assert result.code == 0, result
    assert "Enter a number to choose a backup:" in result.err
    assert [b["id"] for b in fake.backups[("proj1", "main")]] == ["bk-new", "bk-broken"]


def test_hidden_aliases(cli: Cli) -> None:
    assert cli("snapshot:list", *PE).out == cli("backup:list", *PE).out


def test_list_deprecated_options_and_columns(cli: Cli) -> None:
    result = cli("backups", *PE, "--limit", "5", "--format", "csv", "-c", "name,created,state")
    assert result.code == 0, result
    assert result.out.splitlines()[:2] == [
        "Backup ID,Created,[Deprecated]",
        "bk-new,2024-01-02T09:00:00+00:00,",
    ]
    assert result.err == (
        "DEPRECATED The option --limit is deprecated and no longer used. "
        "It will be removed in a future version.\n"
        "DEPRECATED The column name has been replaced by id.\n"
        "DEPRECATED The column created has been replaced by created_at.\n"
        "DEPRECATED The column state has been removed.\n"
    )


def test_create_unsafe_is_deprecated(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("backup:create", *PE, "--unsafe", "-W", "-y")
    assert result.code == 0, result
    assert result.err.startswith(
        "DEPRECATED The option --unsafe is deprecated and no longer used. "
        "It will be removed in a future version.\n"
    )
    assert fake.calls("POST", ".*/backup")[-1].json() == {"safe": False}
