"""How values are shown: PHP `date()` formats for `--date-fmt`, booleans, lists, HTML-ish text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Properties shown as dates (formatted with --date-fmt) wherever they appear.
DATE_KEYS = frozenset(
    {
        "created_at",
        "updated_at",
        "expires_at",
        "granted_at",
        "started_at",
        "completed_at",
        "cancelled_at",
        "last_active_at",
        "last_backup_at",
        "finished_at",
        "last_used_at",
        "created",
        "updated",
        "completed",
    }
)

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an API timestamp string (or a UNIX time), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    # PHP sends `+00:00` unencoded in query strings and some servers use 'Z'.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def get_timezone(name: str) -> tzinfo | None:
    """A timezone by IANA name (or UTC offsets such as `+02:00`); None means local time."""
    if not name:
        return None
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return timezone(sign * delta)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name.lstrip(":"))
    except (ImportError, ValueError, OSError, KeyError):
        return None


def _offset(dt: datetime, colon: bool) -> str:
    delta = dt.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def php_date(fmt: str, dt: datetime) -> str:
    """Format `dt` with PHP `date()` letters (`c`, `Y-m-d H:i:s`, `r`, `U`, ...)."""
    out: list[str] = []
    index = 0
    while index < len(fmt):
        char = fmt[index]
        index += 1
        if char == "\\" and index < len(fmt):
            out.append(fmt[index])
            index += 1
            continue
        out.append(_php_letter(char, dt))
    return "".join(out)


def _hour12(dt: datetime) -> int:
    return dt.hour % 12 or 12


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(dt: datetime) -> str:
    import calendar

    return str(calendar.monthrange(dt.year, dt.month)[1])


# One function per PHP `date()` letter, so a format computes only the letters it uses
# (a table of 500 environments formats 1,000 dates).
_LETTERS: dict[str, Callable[[datetime], str]] = {
    "d": lambda dt: f"{dt.day:02d}",
    "D": lambda dt: _DAYS[dt.weekday()][:3],
    "j": lambda dt: str(dt.day),
    "l": lambda dt: _DAYS[dt.weekday()],
    "N": lambda dt: str(dt.isoweekday()),
    "S": lambda dt: _suffix(dt.day),
    "w": lambda dt: str(dt.isoweekday() % 7),
    "z": lambda dt: str(dt.timetuple().tm_yday - 1),
    "W": lambda dt: f"{dt.isocalendar()[1]:02d}",
    "F": lambda dt: _MONTHS[dt.month - 1],
    "m": lambda dt: f"{dt.month:02d}",
    "M": lambda dt: _MONTHS[dt.month - 1][:3],
    "n": lambda dt: str(dt.month),
    "t": _days_in_month,
    "y": lambda dt: f"{dt.year % 100:02d}",
    "Y": lambda dt: str(dt.year),
    "o": lambda dt: str(dt.isocalendar()[0]),
    "a": lambda dt: "am" if dt.hour < 12 else "pm",
    "A": lambda dt: "AM" if dt.hour < 12 else "PM",
    "g": lambda dt: str(_hour12(dt)),
    "G": lambda dt: str(dt.hour),
    "h": lambda dt: f"{_hour12(dt):02d}",
    "H": lambda dt: f"{dt.hour:02d}",
    "i": lambda dt: f"{dt.minute:02d}",
    "s": lambda dt: f"{dt.second:02d}",
    "u": lambda dt: f"{dt.microsecond:06d}",
    "v": lambda dt: f"{dt.microsecond // 1000:03d}",
    "O": lambda dt: _offset(dt, False),
    "P": lambda dt: _offset(dt, True),
    "p": lambda dt: "Z" if not dt.utcoffset() else _offset(dt, True),
    "T": lambda dt: dt.tzname() or _offset(dt, True),
    "e": lambda dt: str(dt.tzinfo) if dt.tzinfo else "UTC",
    "Z": lambda dt: str(int((dt.utcoffset() or timedelta(0)).total_seconds())),
    "U": lambda dt: str(int(dt.timestamp())),
    "I": lambda dt: "1" if dt.dst() else "0",
    "L": lambda dt: "1" if _leap(dt.year) else "0",
    "c": lambda dt: dt.strftime("%Y-%m-%dT%H:%M:%S") + _offset(dt, True),
    "r": lambda dt: php_date("D, d M Y H:i:s O", dt),
}


def _php_letter(char: str, dt: datetime) -> str:
    letter = _LETTERS.get(char)
    return char if letter is None else letter(dt)


class Formatter:
    """Formats property values for tables and `-P` output."""

    def __init__(self, date_format: str = "c", tz_name: str = "") -> None:
        self.date_format = date_format or "c"
        self.tz = get_timezone(tz_name)
        # A table shows the same timestamp more than once (created and updated).
        self._dates: dict[str, str] = {}

    def date(self, value: Any) -> str:
        """A timestamp in the chosen format and zone ('' for empty values)."""
        if isinstance(value, str):
            found = self._dates.get(value)
            if found is None:
                found = self._dates[value] = self._format(value)
            return found
        return self._format(value)

    def _format(self, value: Any) -> str:
        parsed = parse_datetime(value)
        if parsed is None:
            return "" if value is None else str(value)
        local = parsed.astimezone(self.tz) if self.tz else parsed.astimezone()
        return php_date(self.date_format, local)

    def cell(self, key: str, value: Any) -> str:
        """A value in a list table: dates formatted, booleans as true/false, None empty."""
        if value is None:
            return ""
        if key in DATE_KEYS:
            return self.date(value)
        return scalar_text(value)

    def prop(self, key: str, value: Any) -> str:
        """A value in a Property/Value table or `-P` output (YAML for structures)."""
        if key in DATE_KEYS and isinstance(value, str):
            return self.date(value)
        if isinstance(value, dict | list):
            from homeport.cli.miniyaml import dumps

            if not value:
                return "[]" if isinstance(value, list) else "{  }"
            return dumps(value).rstrip("\n")
        if value is None:
            return "null"
        return scalar_text(value)


def scalar_text(value: Any) -> str:
    """A scalar as text: booleans as `true`/`false`, lists joined with commas."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(scalar_text(v) for v in value)
    if isinstance(value, dict):
        import json

        return json.dumps(value, sort_keys=True)
    return str(value)


_TAG = re.compile(r"<[^>]+>")


def strip_tags(text: str) -> str:
    """Plain text from the API's HTML-ish activity descriptions."""
    import html

    return html.unescape(_TAG.sub("", text))
