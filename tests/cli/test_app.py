"""The application: version, list, help, errors and global flags (`homeport.cli.app`)."""

from __future__ import annotations

import io

import pytest

from homeport import __version__
from homeport.cli.env import Environment
from homeport.cli.main import main

from .conftest import Cli, unused_port


def test_version_fast_path() -> None:
    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), environ={}, cwd="/")
    assert main(["--version"], env=env) == 0
    assert out.getvalue() == f"Homeport CLI {__version__}\n"
    out.truncate(0)
    out.seek(0)
    assert main(["var", "-V"], env=env) == 0
    assert out.getvalue() == f"Homeport CLI {__version__}\n"


def test_list_shows_commands_and_aliases(cli: Cli) -> None:
    result = cli("list")
    assert result.code == 0
    assert "  variable:list (variables, var)" in result.out
    assert "snapshot:list" not in result.out
    assert "snapshot:list" in cli("list", "--all").out
    assert cli().out == result.out
    namespaced = cli("list", "backup").out
    assert "backup:create (backup)" in namespaced and "variable:list" not in namespaced


def test_help_for_a_command(cli: Cli) -> None:
    result = cli("help", "var:cr")
    assert result.code == 0
    assert result.out.startswith("Command: variable:create\n")
    assert "  -l, --level=LEVEL" in result.out
    assert "--app-scope=APP_SCOPE" in result.out and "(multiple values allowed)" in result.out
    assert cli("variable:create", "--help").out == result.out
    assert cli("backup", "-h").out.startswith("Command: backup:create\nAliases: backup\n")


def test_unknown_command(cli: Cli) -> None:
    result = cli("variable:lst")
    assert result.code == 1
    assert "[CommandNotFoundException]" in result.err
    assert 'Command "variable:lst" is not defined.' in result.err
    assert "variable:list" in result.err
    assert "Traceback" not in result.err


def test_ambiguous_command(cli: Cli) -> None:
    result = cli("var:d", "x")
    assert result.code == 1
    assert 'Command "var:d" is ambiguous.' in result.err
    assert "variable:disable" in result.err


def test_bad_option_shows_usage(cli: Cli) -> None:
    result = cli("var", "--foo")
    assert result.code == 1
    assert 'The "--foo" option does not exist.' in result.err
    assert "Usage: platform variable:list [options]" in result.err
    assert "For more information, type: platform help variable:list" in result.err
    assert (
        cli("var", "--format", "xml", "-p", "proj1", "-e", "main").err.count(
            'Invalid format: "xml"'
        )
        == 1
    )


def test_connection_failure_is_exit_5(cli: Cli) -> None:
    port = unused_port()
    result = cli(
        "var",
        "-p",
        "proj1",
        "-e",
        "main",
        env={"PLATFORMSH_CLI_API_URL": f"http://127.0.0.1:{port}"},
    )
    assert result.code == 5
    assert f"Failed to connect to host: 127.0.0.1:{port}" in result.err
    assert "[ConnectionFailedException]" in result.err


def test_unexpected_error_has_no_traceback_unless_vvv(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from homeport.cli.commands import auth

    def boom(self: object) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(auth.AuthToken, "execute", boom)
    result = cli("auth:token")
    assert result.code == 1
    assert "Unexpected error: RuntimeError: kaboom" in result.err
    assert "Traceback" not in result.err
    assert "Traceback (most recent call last)" in cli("auth:token", "-vvv").err


def test_quiet_suppresses_output_but_not_errors(cli: Cli) -> None:
    assert cli("auth:info", "-q").out == ""
    failing = cli("var", "-q", "-p", "nope")
    assert failing.code == 1
    assert "Specified project not found: nope" in failing.err


def test_app_container_warning(cli: Cli) -> None:
    container = {"PLATFORM_PROJECT": "proj1", "PLATFORM_BRANCH": "main", "PLATFORM_TREE_ID": "t1"}
    result = cli("auth:info", "-P", "id", env=container)
    assert result.code == 0
    assert (
        "An API token is set. Anyone with SSH access to this environment can read the token."
        in result.err
    )
    assert "Warning:" not in cli("auth:info", "-P", "id").err
    partial = {"PLATFORM_PROJECT": "proj1", "PLATFORM_BRANCH": "main"}
    assert "Warning:" not in cli("auth:info", "-P", "id", env=partial).err


def test_deprecated_dash_n_answers_no(cli: Cli) -> None:
    result = cli("var:delete", "env:FOO", "-p", "proj1", "-e", "main", "-n")
    assert result.code == 1
    assert "the -n option is deprecated" in result.err
    assert "[y/N] n" in result.err


def test_help_without_argument_describes_help(cli: Cli) -> None:
    result = cli("help")
    assert result.code == 0
    assert result.out.startswith("Command: help\n")
    assert result.out.endswith(
        "Help:\n  The help command displays help for a given command:\n\n"
        "    platform help list\n\n"
        "  To display the list of available commands, please use the list command.\n"
    )
