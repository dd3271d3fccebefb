"""Command lookup: names, aliases, abbreviations (`homeport.cli.registry`)."""

from __future__ import annotations

import importlib

import pytest

from homeport.cli.commands.base import Command
from homeport.cli.errors import CommandNotFound
from homeport.cli.registry import COMMANDS, alternatives, find, levenshtein


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("variable:list", "variable:list"),
        ("var", "variable:list"),
        ("variables", "variable:list"),
        ("vget", "variable:get"),
        ("var:cr", "variable:create"),
        ("act:get", "activity:get"),
        ("env:info", "environment:info"),
        ("env:i", "environment:info"),
        ("e:red", "environment:redeploy"),
        ("ssh-key:l", "ssh-key:list"),
        ("env", "environment:list"),
        ("snapshot:list", "backup:list"),
        ("environment:backup", "backup:create"),
        ("login", "auth:password-login"),
        ("logout", "auth:logout"),
        ("VAR:LIST", "variable:list"),
        ("pro", "project:list"),
    ],
)
def test_find(name: str, command: str) -> None:
    assert find(name).name == command


def test_ambiguous_lists_candidates_with_descriptions() -> None:
    with pytest.raises(CommandNotFound) as info:
        find("var:d")
    assert info.value.message.splitlines() == [
        'Command "var:d" is ambiguous.',
        "Did you mean one of these?",
        "    variable:delete  Delete a variable",
        "    variable:disable Disable an enabled environment-level variable",
    ]
    assert info.value.exit_code == 1


def test_not_defined_suggests() -> None:
    with pytest.raises(CommandNotFound) as info:
        find("variable:lst")
    assert info.value.message.startswith('Command "variable:lst" is not defined.')
    assert "variable:list" in info.value.message
    with pytest.raises(
        CommandNotFound, match=r'There are no commands defined in the "nope" namespace\.'
    ):
        find("nope:list")
    # A namespace alone is not a command.
    with pytest.raises(CommandNotFound, match='Command "activity" is not defined'):
        find("activity")


def test_levenshtein_and_alternatives() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert alternatives("usrs", ["users", "user:list", "backups"]) == ["users"]


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_every_target_is_a_command(spec) -> None:
    module_name, _, class_name = spec.target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Command)
    assert spec.description
