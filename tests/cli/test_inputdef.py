"""Symfony-style parsing of options and arguments (`homeport.cli.inputdef`)."""

from __future__ import annotations

import pytest

from homeport.cli.errors import InvalidArgument
from homeport.cli.inputdef import FLAG, OPTIONAL, REQUIRED, Definition, parse


def definition() -> Definition:
    d = Definition()
    d.argument("name", "The name")
    d.argument("rest", "More", is_array=True)
    d.option("project", "p", REQUIRED, "Project")
    d.option("yes", "y", FLAG, "Yes")
    d.option("quiet", "q", FLAG, "Quiet")
    d.option("verbose", "v", FLAG, "Verbose")
    d.option("columns", "c", REQUIRED, "Columns", is_array=True)
    d.option("refresh", "", OPTIONAL, "Refresh", default="1")
    return d


def test_long_short_and_attached_values() -> None:
    parsed = parse(
        ["--project=abc", "thing", "-c+live,commit_id", "-c", "id", "x", "y"], definition()
    )
    assert parsed.opt("project") == "abc"
    assert parsed.arg("name") == "thing"
    assert parsed.arg("rest") == ["x", "y"]
    assert parsed.list_opt("columns") == ["+live", "commit_id", "id"]
    assert parsed.has("project") and not parsed.has("yes")


def test_bundled_flags_and_verbosity_count() -> None:
    parsed = parse(["-yq", "-vvv", "-pabc"], definition())
    assert parsed.opt("yes") is True and parsed.opt("quiet") is True
    assert parsed.opt("verbose") == 3
    assert parsed.opt("project") == "abc"


def test_double_dash_ends_options() -> None:
    parsed = parse(["--", "-p"], definition())
    assert parsed.arg("name") == "-p"
    assert parsed.opt("project") is None


def test_optional_value_may_be_absent() -> None:
    assert parse(["--refresh"], definition()).opt("refresh") is None
    assert parse(["--refresh", "0"], definition()).opt("refresh") == "0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--foo"], 'The "--foo" option does not exist.'),
        (["-Z"], 'The "-Z" option does not exist.'),
        (["--project"], 'The "--project" option requires a value.'),
        (["--project", "--yes"], 'The "--project" option requires a value.'),
        (["--yes=1"], 'The "--yes" option does not accept a value.'),
    ],
)
def test_symfony_error_messages(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(argv, definition())
    assert info.value.message == message


def test_argument_counts() -> None:
    d = Definition()
    d.argument("name", "Name", required=True)
    with pytest.raises(InvalidArgument, match=r'Not enough arguments \(missing: "name"\)'):
        parse([], d)
    with pytest.raises(InvalidArgument, match='Too many arguments, expected arguments "name"'):
        parse(["a", "b"], d)
    with pytest.raises(InvalidArgument, match='No arguments expected, got "a"'):
        parse(["a"], Definition())


def test_command_shortcut_replaces_global_one() -> None:
    d = Definition()
    d.option("no-warn", "W", FLAG, "global")
    d.option("no-wait", "W", FLAG, "command")
    assert parse(["-W"], d).opt("no-wait") is True
    assert d.options["no-warn"].shortcut == ""


def test_synopsis() -> None:
    d = Definition()
    d.argument("name", "Name")
    d.option("update", "u", FLAG, "Update")
    d.option("level", "l", REQUIRED, "Level")
    assert d.synopsis() == "[-u|--update] [-l|--level LEVEL] [--] [<name>]"
    assert d.synopsis(short=True) == "[options] [--] [<name>]"
