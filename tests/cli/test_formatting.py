"""Dates and values (`homeport.cli.formatting`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from homeport.cli.formatting import Formatter, parse_datetime, php_date, strip_tags

MOMENT = datetime(2014, 4, 1, 10, 5, 9, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("c", "2014-04-01T10:05:09+00:00"),
        ("Y-m-d H:i:s", "2014-04-01 10:05:09"),
        ("D, d M Y", "Tue, 01 Apr 2014"),
        ("jS F y, g:ia", "1st April 14, 10:05am"),
        ("U", "1396346709"),
        ("r", "Tue, 01 Apr 2014 10:05:09 +0000"),
        ("\\Y\\m Y", "Ym 2014"),
        ("u v t L", "123456 123 30 0"),
    ],
)
def test_php_date(fmt: str, text: str) -> None:
    assert php_date(fmt, MOMENT) == text


def test_parse_datetime_variants() -> None:
    assert parse_datetime("2014-04-01T10:00:00Z") == datetime(2014, 4, 1, 10, tzinfo=UTC)
    assert parse_datetime("2014-04-01T10:00:00.1234567+02:00") is not None
    assert parse_datetime("not a date") is None
    assert parse_datetime(None) is None


def test_formatter_zones_and_values() -> None:
    utc = Formatter("c", "UTC")
    assert utc.date("2014-04-01T10:00:00+02:00") == "2014-04-01T08:00:00+00:00"
    paris = Formatter("Y-m-d H:i T", "Europe/Paris")
    assert paris.date("2014-04-01T10:00:00Z") == "2014-04-01 12:00 CEST"
    offset = Formatter("c", "+05:30")
    assert offset.tz == timezone(timedelta(hours=5, minutes=30))
    assert utc.cell("restorable", True) == "true"
    assert utc.cell("parent", None) == ""
    assert utc.prop("parent", None) == "null"
    assert utc.prop("application_scope", ["app", "worker"]) == "- app\n- worker"
    assert utc.cell("environments", ["a", "b"]) == "a, b"


def test_strip_tags() -> None:
    assert strip_tags("<user>Ann</user> pushed to <environment>main</environment> &amp; more") == (
        "Ann pushed to main & more"
    )
