"""Tables and machine-readable formats (`homeport.cli.table`)."""

from __future__ import annotations

import pytest

from homeport.cli.errors import InvalidArgument
from homeport.cli.table import check_format, render, resolve_columns

from .conftest import Cli

HEADERS = ["ID", "Value"]
ROWS = [["a", "plain"], ["b", 'has "quotes", commas\tand tab']]


def test_ascii_table() -> None:
    assert render(HEADERS, [["a", "1"], ["bb", "22"]], "table") == (
        "+----+-------+\n"
        "| ID | Value |\n"
        "+----+-------+\n"
        "| a  | 1     |\n"
        "| bb | 22    |\n"
        "+----+-------+\n"
    )


def test_table_without_header() -> None:
    assert render(HEADERS, [["a", "1"]], "table", show_header=False) == (
        "+---+---+\n| a | 1 |\n+---+---+\n"
    )


def test_wraps_to_width() -> None:
    text = render(["K", "Text"], [["k", "word " * 20]], "table", max_width=30)
    lines = text.splitlines()
    assert all(len(line) <= 30 for line in lines)
    assert len(lines) > 5
    assert lines[0] == lines[-1]


def test_csv_tsv_plain() -> None:
    assert render(HEADERS, ROWS, "csv") == (
        'ID,Value\na,plain\nb,"has ""quotes"", commas\tand tab"\n'
    )
    assert (
        render(HEADERS, ROWS, "tsv")
        == 'ID\tValue\na\tplain\nb\t"has ""quotes"", commas\tand tab"\n'
    )
    assert (
        render(HEADERS, [["x", "line\nbreak\ttab"]], "plain", show_header=False)
        == "x\tline break tab\n"
    )


def test_invalid_format() -> None:
    with pytest.raises(
        InvalidArgument, match=r'Invalid format: "json"\. Supported formats: table, csv, tsv, plain'
    ):
        check_format("json")


AVAILABLE = [
    ("id", "ID"),
    ("created_at", "Created"),
    ("commit_id", "Commit ID"),
    ("automated", "Automated"),
]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ([], ["created_at", "id"]),
        (["+automated", "commit_id"], ["created_at", "id", "automated", "commit_id"]),
        (["+"], ["created_at", "id"]),
        (["ID"], ["id"]),
        (["c*"], ["created_at", "commit_id"]),
        (["%_id"], ["commit_id"]),
        (["Commit ID"], ["commit_id"]),
    ],
)
def test_resolve_columns(requested: list[str], expected: list[str]) -> None:
    assert resolve_columns(AVAILABLE, ["created_at", "id"], requested) == expected


def test_unknown_column() -> None:
    with pytest.raises(
        InvalidArgument, match=r"Column not found: nope \(available columns: id, created_at"
    ):
        resolve_columns(AVAILABLE, ["id"], ["nope"])


def test_text_columns_wrap_before_ids_and_dates() -> None:
    rows = [["2024-01-01T10:00:00+00:00", "a long description that can wrap at its spaces"]]
    text = render(["Created", "Description"], rows, "table", max_width=60)
    assert "| 2024-01-01T10:00:00+00:00 |" in text
    assert all(len(line) <= 60 for line in text.splitlines())


def test_no_wrapping_without_a_width() -> None:
    long = "2024-01-01T09:00:00+00:00 " * 6
    text = render(["ID", "Text"], [["an-identifier-that-is-long", long]], "table", max_width=None)
    assert f"| an-identifier-that-is-long | {long} |" in text
    assert len(text.splitlines()) == 5


def test_piped_tables_are_not_wrapped(cli: Cli) -> None:
    """With stdout not a terminal and no COLUMNS, no cell is split across lines."""
    wrapped = cli("activity:list", "-p", "proj1", "-a", env={"COLUMNS": "60"})
    piped = cli("activity:list", "-p", "proj1", "-a", unset=("COLUMNS",))
    assert len(wrapped.out.splitlines()) > len(piped.out.splitlines())
    rows = [line for line in piped.out.splitlines() if line.startswith("| ")]
    assert len(rows) == 5  # the header and four activities, one line each
    assert "| 2023-12-04T10:00:00+00:00 |" in piped.out
