"""Dates and values (`homeport.cli.formatting`)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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


# Every letter the formatter knows, checked against PHP's own date() (php-cli).
LETTERS = "dDjlNSwzWFmMntLoyYaAgGhHisuvOPpTeZUIcr"
MOMENTS = [
    (1396346709.123456, "UTC"),
    (1735689599.5, "Europe/Paris"),  # New Year in Paris, still 2024 in UTC
    (1719792000.0, "America/New_York"),  # summer time
    (951782400.0, "Asia/Kolkata"),  # 29 February 2000, a half-hour offset
    (1104537600.0, "UTC"),  # 1 January 2005, ISO week 53 of 2004
]
PHP_FORMAT = r"""$in = json_decode(stream_get_contents(STDIN), true); $out = [];
foreach ($in["moments"] as [$ts, $tz]) {
  $d = DateTime::createFromFormat("U.u", sprintf("%.6F", $ts));
  $d->setTimezone(new DateTimeZone($tz));
  $row = []; foreach (str_split($in["letters"]) as $l) { $row[$l] = $d->format($l); }
  $out[] = $row;
}
echo json_encode($out);"""


def test_every_letter_formats_as_php_does() -> None:
    done = subprocess.run(
        ["php", "-r", PHP_FORMAT],
        input=json.dumps({"moments": MOMENTS, "letters": LETTERS}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    expected = json.loads(done.stdout)
    for (stamp, zone), php_row in zip(MOMENTS, expected, strict=True):
        moment = datetime.fromtimestamp(stamp, UTC).astimezone(ZoneInfo(zone))
        ours = {letter: php_date(letter, moment) for letter in LETTERS}
        assert ours == php_row, (stamp, zone)
    # A whole format, escapes included, is the letters joined.
    moment = datetime.fromtimestamp(MOMENTS[1][0], UTC).astimezone(ZoneInfo(MOMENTS[1][1]))
    assert php_date("l jS \\o\\f F Y h:i:s A T", moment) == (
        "Wednesday 1st of January 2025 12:59:59 AM CET"
    )


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
