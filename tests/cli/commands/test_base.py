"""Project and environment selection, waiting and hook detection (`commands.base`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.cli.commands.base import parse_project_value

from ..conftest import Cli
from ..fake_api import FakeApiServer


def make_checkout(root: Path, *, remote: str = "", branch: str = "main", yaml: str = "") -> Path:
    git = root / ".git"
    git.mkdir(parents=True)
    (git / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    (git / "config").write_text(f'[remote "origin"]\n\turl = {remote}\n' if remote else "")
    if yaml:
        (root / ".platform" / "local").mkdir(parents=True)
        (root / ".platform" / "local" / "project.yaml").write_text(yaml)
    return root


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("proj1", ("proj1", None)),
        ("http://h:8000/projects/proj1", ("proj1", None)),
        ("http://h:8000/projects/proj1/environments/feature%2Fa", ("proj1", "feature/a")),
    ],
)
def test_parse_project_value(value: str, expected: tuple[str, str | None]) -> None:
    assert parse_project_value(value) == expected


def test_project_url_selects_environment_too(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("environment:info", "id", "-p", f"{fake.url}/projects/proj1/environments/staging")
    assert result.out == "staging\n"


def test_platform_project_and_branch_variables(cli: Cli) -> None:
    env = {"PLATFORM_PROJECT": "proj1", "PLATFORM_BRANCH": "staging"}
    result = cli("environment:info", "id", "-v", env=env)
    assert result.out == "staging\n"
    assert "Project ID read from environment variable PLATFORM_PROJECT: proj1" in result.err
    assert "Environment ID read from environment variable PLATFORM_BRANCH: staging" in result.err
    # -e beats PLATFORM_BRANCH.
    assert cli("environment:info", "id", "-e", "main", env=env).out == "main\n"


def test_local_checkout_project_yaml_and_branch(cli: Cli, tmp_path: Path) -> None:
    repo = make_checkout(tmp_path / "repo", branch="staging", yaml="id: proj1\n")
    assert cli("environment:info", "id", cwd=repo).out == "staging\n"


def test_local_checkout_git_remote_and_mapping(
    cli: Cli, fake: FakeApiServer, tmp_path: Path
) -> None:
    repo = make_checkout(tmp_path / "repo", remote=f"{fake.url}/git/proj1.git", branch="feature-x")
    assert cli("environment:info", "id", cwd=repo).out == "feature-x\n"
    mapped = make_checkout(
        tmp_path / "mapped", branch="topic", yaml="id: proj1\nmapping:\n  topic: staging\n"
    )
    assert cli("environment:info", "id", cwd=mapped).out == "staging\n"


def test_remote_on_another_host_is_ignored(cli: Cli, tmp_path: Path) -> None:
    repo = make_checkout(tmp_path / "repo", remote="https://github.com/x/git/proj1.git")
    result = cli("environment:info", "id", cwd=repo)
    assert result.code == 2
    assert "Could not determine the current project." in result.err


def test_no_project_non_interactive_is_exit_2(cli: Cli) -> None:
    result = cli("var")
    assert result.code == 2
    assert "[RootNotFoundException]" in result.err
    assert "Specify it using --project, or go to a project directory." in result.err


def test_interactive_project_choice(cli: Cli) -> None:
    result = cli("environment:info", "id", "-e", "main", stdin="0\n", tty=True)
    assert result.code == 0, result
    assert "Enter a number to choose a project:" in result.err
    assert "[0] Demo Project (proj1)" in result.err
    assert result.out == "main\n"


def test_unknown_project_lists_yours(cli: Cli) -> None:
    result = cli("env", "-p", "nope")
    assert result.code == 1
    assert "Specified project not found: nope" in result.err
    assert "Your projects are:\n    Demo Project (proj1)" in result.err


def test_environment_selection_rules(cli: Cli) -> None:
    assert cli("environment:info", "id", "-p", "proj1", "-e", ".").out == "main\n"
    assert cli("environment:info", "id", "-p", "proj1", "-e", "staging-abc123").out == "staging\n"
    missing = cli("environment:info", "id", "-p", "proj1", "-e", "master")
    assert missing.code == 1
    assert "Specified environment not found: master" in missing.err
    none = cli("environment:info", "id", "-p", "proj1")
    assert none.code == 1
    assert "No environment specified." in none.err
    assert "Usage: platform environment:info" in none.err


def test_argument_and_option_conflict(cli: Cli) -> None:
    result = cli("backup:create", "main", "-e", "main", "-p", "proj1", "-y")
    assert result.code == 1
    assert (
        "You cannot use both the <environment> argument and the --environment option" in result.err
    )


def test_hook_detection_defaults_to_no_wait(cli: Cli, fake: FakeApiServer) -> None:
    fake.activity_ticks = 3
    hook = {"PLATFORM_PROJECT": "proj1", "SHELL": "/bin/dash"}
    result = cli("redeploy", "-p", "proj1", "-e", "main", "-y", env=hook)
    assert result.code == 0
    assert "hook environment detected: assuming --no-wait by default." in result.err
    assert "To avoid ambiguity, please specify either --no-wait or --wait." in result.err
    assert "Waiting for the activity" not in result.err
    waited = cli("redeploy", "-p", "proj1", "-e", "main", "-y", "--wait", env=hook)
    assert "hook environment detected" not in waited.err
    assert "The activity succeeded" in waited.err
    bash = cli("redeploy", "-p", "proj1", "-e", "main", "-y", env={**hook, "SHELL": "/bin/bash"})
    assert "Waiting for the activity" in bash.err
    tty = cli("redeploy", "-p", "proj1", "-e", "main", "-y", env=hook, tty=True)
    assert "hook environment detected" not in tty.err


def test_checkout_of_an_unknown_project_is_exit_9(cli: Cli, tmp_path: Path) -> None:
    repo = make_checkout(tmp_path / "repo", yaml="id: gone\n")
    result = cli("environment:info", "id", cwd=repo)
    assert result.code == 9
    assert "Specified project not found: gone" in result.err
