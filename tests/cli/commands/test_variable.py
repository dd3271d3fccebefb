"""`variable:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer

P = ("-p", "proj1")
PE = ("-p", "proj1", "-e", "main")


def test_list_levels_and_empty(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("var", *PE)
    assert result.code == 0
    assert "Variables on the project Demo Project (proj1), environment Main (main):" in result.err
    project_only = cli("var", "-l", "p", *P)
    assert project_only.code == 0
    assert "env:FOO" not in project_only.out and "api.url" in project_only.out
    assert "Project-level variables on the project Demo Project (proj1):" in project_only.err
    csv = cli("var", "--format", "csv", *PE)
    assert "bar,project,," in csv.out and "[Hidden" not in csv.out
    assert csv.err == ""
    empty = cli("var", "-l", "e", "-p", "proj1", "-e", "staging")
    assert empty.code == 1
    assert empty.err.strip() == "No variables found."


def test_get(cli: Cli) -> None:
    assert cli("vget", "env:FOO", "-P", "value", *PE).out == "bar\n"
    assert cli("vget", "api.url", "-P", "level", *PE).out == "project\n"
    table = cli("variable:get", "bar", *PE)
    assert "| value             | [Hidden: sensitive value] |" in table.out
    sensitive = cli("vget", "bar", "-P", "value", *PE)
    assert sensitive.code == 1
    assert "The variable is sensitive, so its value cannot be read." in sensitive.err
    disabled = cli("vget", "env:OFF", "-P", "value", *PE)
    assert disabled.out == "x\n"
    assert (
        "The variable env:OFF is disabled.\nEnable it with: platform variable:enable 'env:OFF'"
        in disabled.err
    )
    missing = cli("vget", "nope", *PE)
    assert missing.code == 1 and "Variable not found: nope" in missing.err
    unknown_prop = cli("vget", "env:FOO", "-P", "nope", *PE)
    assert unknown_prop.code == 1 and "Property not found: nope" in unknown_prop.err


def test_get_without_name_lists_in_non_interactive_mode(cli: Cli) -> None:
    assert cli("vget", *PE).out == cli("var", *PE).out


def test_found_at_both_levels(cli: Cli, fake: FakeApiServer) -> None:
    fake.add_variable("proj1", "main", "api.url", "override")
    result = cli("vget", "api.url", *PE)
    assert result.code == 1
    assert "Variable found at both project and environment levels: api.url" in result.err
    assert cli("vget", "api.url", "-l", "e", "-P", "value", *PE).out == "override\n"


def test_create_environment_level(cli: Cli, fake: FakeApiServer) -> None:
    result = cli(
        "variable:create",
        "-l",
        "e",
        "env:TEST",
        "--value",
        "v",
        "--sensitive",
        "true",
        "--inheritable",
        "no",
        *PE,
    )
    assert result.code == 0, result
    assert "Creating variable env:TEST on the environment Main (main)" in result.err
    assert "The activity succeeded" in result.err
    (post,) = fake.calls("POST", "/projects/proj1/environments/main/variables")
    assert post.json() == {
        "name": "env:TEST",
        "value": "v",
        "is_json": False,
        "is_sensitive": True,
        "application_scope": [],
        "visible_build": False,
        "visible_runtime": True,
        "is_enabled": True,
        "is_inheritable": False,
    }
    assert "| level             | environment" in result.out


def test_create_project_level_with_prefix(cli: Cli, fake: FakeApiServer) -> None:
    result = cli(
        "var:create",
        "--level",
        "project",
        "--name",
        "TOKEN",
        "--prefix",
        "env",
        "--value",
        "x",
        "--json",
        "0",
        "--app-scope",
        "app,worker",
        *P,
    )
    assert result.code == 0, result
    assert "Creating variable env:TOKEN on the project Demo Project (proj1)" in result.err
    assert (
        "The remote environment(s) must be redeployed for the change to take effect." in result.err
    )
    body = fake.calls("POST", "/projects/proj1/variables")[0].json()
    assert body["name"] == "env:TOKEN"
    assert body["visible_build"] is True and body["visible_runtime"] is True
    assert body["application_scope"] == ["app", "worker"]


def test_create_refusals(cli: Cli, fake: FakeApiServer) -> None:
    exists = cli("var:create", "env:FOO", "-l", "e", "--value", "x", *PE)
    assert exists.code == 1
    assert "The variable already exists: env:FOO" in exists.err
    assert "To skip this check, use the --update (-u) option." in exists.err
    no_level = cli("var:create", "NEW", "--value", "x", *PE)
    assert no_level.code == 1 and "--level is required" in no_level.err
    no_value = cli("var:create", "NEW", "-l", "p", *P)
    assert no_value.code == 1 and "--value is required" in no_value.err
    bad_bool = cli("var:create", "NEW", "-l", "p", "--value", "x", "--json", "maybe", *P)
    assert "Invalid value for 'JSON': maybe (expected 1, 0, true, or false)" in bad_bool.err
    env_only = cli("var:create", "NEW", "-l", "p", "--value", "x", "--enabled", "1", *P)
    assert (
        "The option --enabled can only be used for variables at the environment level"
        in env_only.err
    )
    bad_json = cli("var:create", "NEW", "-l", "p", "--value", "{nope", "--json", "1", *P)
    assert "The value is not valid JSON: {nope" in bad_json.err
    bad_name = cli("var:create", "env:9X", "-l", "p", "--value", "x", *P)
    assert "The environment variable name is invalid: env:9X" in bad_name.err
    bad_level = cli("var:create", "X", "-l", "galaxy", "--value", "x", *P)
    assert "Invalid level: galaxy" in bad_level.err
    both = cli("var:create", "X", "--name", "Y", "-l", "p", "--value", "x", *P)
    assert "You cannot use both the name argument and --name option." in both.err
    assert fake.calls("POST", ".*/variables") == []


def test_create_with_update_flag_updates(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("var:create", "-u", "env:FOO", "-l", "e", "--value", "new", *PE)
    assert result.code == 0, result
    assert "Variable env:FOO updated" in result.err
    (patch,) = fake.calls("PATCH", "/projects/proj1/environments/main/variables/env%3AFOO")
    assert patch.json() == {"value": "new"}


def test_create_interactive_form(cli: Cli, fake: FakeApiServer) -> None:
    answers = "1\nenv:ASKED\nhello\n"
    result = cli("var:create", *PE, stdin=answers, tty=True)
    assert result.code == 0, result
    assert "Level" in result.err and "Name:" in result.err and "Value:" in result.err
    body = fake.calls("POST", "/projects/proj1/environments/main/variables")[0].json()
    assert (body["name"], body["value"]) == ("env:ASKED", "hello")


def test_update(cli: Cli, fake: FakeApiServer) -> None:
    same = cli("variable:update", "env:FOO", "--value", "bar", *PE)
    assert same.code == 1 and "No changes were provided." in same.err
    allowed = cli("variable:update", "env:FOO", "--value", "bar", "--allow-no-change", *PE)
    assert allowed.code == 0
    changed = cli("variable:update", "env:FOO", "--visible-build", "true", "-W", *PE)
    assert changed.code == 0
    assert fake.calls("PATCH", ".*env%3AFOO")[0].json() == {"visible_build": True}
    assert "Waiting" not in changed.err


def test_delete_defaults_to_no(cli: Cli, fake: FakeApiServer) -> None:
    refused = cli("variable:delete", "env:FOO", "--no-interaction", *PE)
    assert refused.code == 1
    question = "Are you sure you want to delete the variable env:FOO from the environment"
    assert f"{question} Main (main)? [y/N] n" in refused.err
    assert fake.calls("DELETE", ".*") == []
    done = cli("variable:delete", "env:FOO", "-y", *PE)
    assert done.code == 0
    assert "Deleted variable env:FOO" in done.err
    assert len(fake.calls("DELETE", "/projects/proj1/environments/main/variables/env%3AFOO")) == 1
    project = cli("variable:delete", "api.url", "-y", *P)
    assert "from the project Demo Project (proj1)? [y/N] y" in project.err
    assert "must be redeployed" in project.err


def test_inherited_cannot_be_deleted(cli: Cli, fake: FakeApiServer) -> None:
    fake.add_variable("proj1", "staging", "env:INH", "v", inherited=True)
    result = cli("variable:delete", "env:INH", "-y", "-p", "proj1", "-e", "staging")
    assert result.code == 1
    assert "is inherited, so it cannot be deleted from this environment." in result.err


def test_enable_disable(cli: Cli, fake: FakeApiServer) -> None:
    assert (
        cli("variable:enable", "env:FOO", *PE).err.strip()
        == "The variable env:FOO is already enabled."
    )
    result = cli("variable:enable", "env:OFF", *PE)
    assert result.code == 0
    assert "Enabled variable env:OFF" in result.err
    assert fake.calls("PATCH", ".*env%3AOFF")[0].json() == {"is_enabled": True}
    assert cli("variable:disable", "env:OFF", *PE).code == 0
    assert fake.calls("PATCH", ".*env%3AOFF")[1].json() == {"is_enabled": False}


def test_permission_denied_is_exit_6(cli: Cli) -> None:
    result = cli(
        "var:create", "X", "-l", "p", "--value", "x", *P, env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN}
    )
    assert result.code == 6
    assert "[PermissionDeniedException]" in result.err
    assert "Permission denied. Check your permissions on the project." in result.err
    env_level = cli(
        "var:create", "X", "-l", "e", "--value", "x", *PE, env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN}
    )
    assert env_level.code == 6
    assert "Check your permissions on the environment." in env_level.err
