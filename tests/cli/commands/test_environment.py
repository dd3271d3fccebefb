"""`environment:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer

P = ("-p", "proj1")


def test_list_filters_and_pipe(cli: Cli) -> None:
    assert cli("env", *P, "--pipe").out == "feature-x\nmain\nold\nstaging\n"
    assert cli("env", *P, "--pipe", "--status=inactive").out == "old\n"
    assert "old" not in cli("env", *P, "-I", "--pipe").out
    assert cli("env", *P, "--pipe", "--type", "staging,production").out == "main\nstaging\n"
    assert (
        cli("env", *P, "--pipe", "--sort", "id", "--reverse").out
        == "staging\nold\nmain\nfeature-x\n"
    )
    none = cli("env", *P, "--type", "nope")
    # An empty filtered list is not an error (the PHP CLI exits 0), so `set -e` carries on.
    assert none.code == 0 and none.out == ""
    assert none.err == "No environments found (filters in use: --type).\n"


def test_list_indents_children_in_tables_only(cli: Cli) -> None:
    table = cli("env", *P).out
    assert "|       feature-x |" in table
    plain = cli("env", *P, "--format", "plain", "--no-header").out
    assert "feature-x\tFeature X\tActive\tdevelopment\n" in plain


def test_info_get_and_set(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("environment:info", "title", *P, "-e", "staging").out == "staging\n"
    assert cli("environment:info", "parent", *P, "-e", "main").out == "null\n"
    result = cli("environment:info", "title", "Staging Area", *P, "-e", "staging")
    assert result.code == 0
    assert "Property title set to: Staging Area" in result.err
    assert fake.calls("PATCH", "/projects/proj1/environments/staging")[0].json() == {
        "title": "Staging Area"
    }
    unset = cli("environment:info", "parent", "-", *P, "-e", "staging")
    assert unset.code == 0
    assert fake.envs["proj1"]["staging"]["parent"] is None
    smtp = cli("environment:info", "enable_smtp", "true", *P, "-e", "staging")
    assert smtp.code == 0 and fake.envs["proj1"]["staging"]["enable_smtp"] is True
    readonly = cli("environment:info", "status", "paused", *P, "-e", "main")
    assert readonly.code == 1 and "Property not writable: status" in readonly.err


def test_branch(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("branch", "new-env", "staging", *P, "--title", "New", "--no-clone-parent")
    assert result.code == 0, result
    assert "Creating a new environment: new-env, branched from staging" in result.err
    assert fake.calls("POST", "/projects/proj1/environments/staging/branch")[0].json() == {
        "name": "new-env",
        "title": "New",
        "clone_parent": False,
    }
    assert "The activity succeeded" in result.err
    exists = cli("branch", "main", *P, "-e", "main")
    assert exists.code == 1 and "The environment main already exists." in exists.err
    inactive = cli("branch", "x", "old", *P)
    assert inactive.code == 1
    assert "Operation not available: The environment old can't be branched." in inactive.err


def test_activate_and_deactivate(cli: Cli, fake: FakeApiServer) -> None:
    already = cli("environment:activate", "main", *P)
    assert already.code == 0 and "The environment Main (main) is already active." in already.err
    result = cli("environment:activate", "old", *P, "-y")
    assert result.code == 0, result
    assert fake.envs["proj1"]["old"]["status"] == "active"
    off = cli("environment:deactivate", "old", *P, "--no-interaction")
    assert off.code == 0
    assert "Are you sure you want to deactivate the environment old? [Y/n] y" in off.err
    assert fake.envs["proj1"]["old"]["status"] == "inactive"
    refused = cli("environment:deactivate", *P, "-e", "main", "-y")
    assert refused.code == 1
    assert (
        "Operation not available: The environment Main (main) can't be deactivated." in refused.err
    )


def test_delete(cli: Cli, fake: FakeApiServer) -> None:
    refused = cli("environment:delete", "old", *P, "--no-interaction")
    assert refused.code == 1
    assert "[y/N] n" in refused.err and "old" in fake.envs["proj1"]
    done = cli("environment:delete", "old", *P, "-y")
    assert done.code == 0, done
    assert "The environment old has been deleted." in done.err
    assert "old" not in fake.envs["proj1"]
    active = cli("environment:delete", "feature-x", *P, "-y")
    assert active.code == 0, active
    assert "Deactivating environment Feature X (feature-x)" in active.err
    assert "feature-x" not in fake.envs["proj1"]
    default = cli("environment:delete", "main", *P, "-y")
    assert (
        default.code == 1
        and "The default environment Main (main) cannot be deleted." in default.err
    )


def test_redeploy_waits_streams_and_fails(cli: Cli, fake: FakeApiServer) -> None:
    fake.activity_ticks = 2
    result = cli("redeploy", *P, "-e", "main", "-y")
    assert result.code == 0
    assert "Are you sure you want to redeploy the environment Main (main)? [Y/n] y" in result.err
    assert "Running environment.redeploy\nDone\n" in result.err
    assert result.out == ""
    fake.activity_result = "failure"
    failed = cli("redeploy", *P, "-e", "main", "-y")
    assert failed.code == 1 and "The activity failed:" in failed.err
    no_wait = cli("redeploy", *P, "-e", "main", "-y", "-W")
    assert no_wait.code == 0 and "Waiting" not in no_wait.err


def test_redeploy_not_available(cli: Cli) -> None:
    result = cli("redeploy", *P, "-e", "main", "-y", env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN})
    assert result.code == 1
    assert "Operation not available: The environment Main (main) can't be redeployed." in result.err
    allowed = cli("redeploy", *P, "-e", "feature-x", "-y", env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN})
    assert allowed.code == 0


def test_pause_and_resume(cli: Cli, fake: FakeApiServer) -> None:
    paused = cli("environment:pause", *P, "-e", "feature-x", "-y")
    assert paused.code == 0, paused
    assert "No data will be lost." in paused.err
    assert "Are you sure you want to pause the environment feature-x? [Y/n] y" in paused.err
    assert "Running environment.pause\nDone\n" in paused.err
    assert fake.envs["proj1"]["feature-x"]["status"] == "paused"
    again = cli("environment:pause", *P, "-e", "feature-x", "-y")
    assert again.code == 0
    assert "The environment Feature X (feature-x) is already paused." in again.err
    assert len(fake.calls("POST", "/projects/proj1/environments/feature-x/pause")) == 1
    resumed = cli("environment:resume", *P, "-e", "feature-x", "--no-interaction", "-W")
    assert resumed.code == 0, resumed
    assert (
        "Are you sure you want to resume the paused environment feature-x? [Y/n] y" in resumed.err
    )
    assert "Waiting" not in resumed.err
    assert fake.envs["proj1"]["feature-x"]["status"] == "active"


def test_pause_and_resume_refusals(cli: Cli) -> None:
    main = cli("environment:pause", *P, "-e", "main", "-y")
    assert main.code == 1
    assert "Operation not available: The environment Main (main) can't be paused." in main.err
    old = cli("environment:pause", *P, "-e", "old", "-y")
    assert old.code == 1 and "The environment is not active." in old.err
    not_paused = cli("environment:resume", *P, "-e", "main", "-y")
    assert not_paused.code == 1
    assert (
        "The environment Main (main) is not paused. Only paused environments can be resumed."
        in not_paused.err
    )
    viewer = cli(
        "environment:pause", *P, "-e", "staging", "-y", env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN}
    )
    assert viewer.code == 1 and "can't be paused." in viewer.err
