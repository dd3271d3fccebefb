"""Golden files for every listing command in each format, and for property views.

Each file holds stdout, then stderr after a `--- stderr ---` line. Regenerate with
`UPDATE_GOLDEN=1 pytest tests/cli/test_golden.py` and review the diff.
"""

from __future__ import annotations

import pytest

from .conftest import Cli
from .fake_api import FakeApiServer
from .goldens import assert_golden

LISTINGS = {
    "variable_list": ("variable:list", "-p", "proj1", "-e", "main"),
    "environment_list": ("environment:list", "-p", "proj1"),
    "backup_list": ("backup:list", "-p", "proj1", "-e", "main"),
    "activity_list": ("activity:list", "-p", "proj1", "--all"),
    "user_list": ("user:list", "-p", "proj1"),
    "project_list": ("project:list",),
    "ssh_key_list": ("ssh-key:list",),
}
FORMATS = ("table", "csv", "tsv", "plain")

PROPERTY_VIEWS = {
    "auth_info": ("auth:info",),
    "variable_get": ("variable:get", "env:FOO", "-p", "proj1", "-e", "main"),
    "variable_get_sensitive": ("variable:get", "bar", "-p", "proj1", "-e", "main"),
    "environment_info": ("environment:info", "-p", "proj1", "-e", "staging"),
    "project_info": ("project:info", "-p", "proj1"),
    "backup_get": ("backup:get", "bk-new", "-p", "proj1", "-e", "main"),
    "activity_get": ("activity:get", "act2", "-p", "proj1"),
    "user_get": ("user:get", "ci@example.com", "-p", "proj1"),
    "activity_list_columns": (
        "activity:list",
        "-p",
        "proj1",
        "-e",
        "main",
        "-c",
        "id,type,time_*",
        "--no-header",
    ),
    "backup_list_dates": (
        "backup:list",
        "-p",
        "proj1",
        "-e",
        "main",
        "-c",
        "+automated,commit_id",
        "--date-fmt",
        "Y-m-d H:i",
    ),
    "variable_list_narrow": ("variable:list", "-p", "proj1", "-e", "main", "-c", "name,value"),
}


def seed_key(fake: FakeApiServer) -> None:
    fake.ssh_keys["u-alice"].append(
        {
            "key_id": 7,
            "title": "laptop",
            "value": "ssh-ed25519 AAAA me",
            "fingerprint": "SHA256:abc",
        }
    )


def combined(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli(*args, env=env)
    assert result.code == 0, result
    return f"{result.out}--- stderr ---\n{result.err}"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listing_formats(cli: Cli, fake: FakeApiServer, name: str, fmt: str) -> None:
    seed_key(fake)
    assert_golden(f"{name}.{fmt}", combined(cli, *LISTINGS[name], "--format", fmt))


@pytest.mark.parametrize("name", sorted(PROPERTY_VIEWS))
def test_property_views(cli: Cli, name: str) -> None:
    assert_golden(name, combined(cli, *PROPERTY_VIEWS[name]))


def test_narrow_terminal_wraps(cli: Cli) -> None:
    text = combined(cli, *LISTINGS["activity_list"], env={"COLUMNS": "90"})
    assert max(len(line) for line in text.split("--- stderr ---")[0].splitlines()) <= 90
    assert_golden("activity_list.narrow", text)
