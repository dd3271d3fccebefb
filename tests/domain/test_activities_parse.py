"""``starts_at`` parsing: every form the clients send, and nothing out of range."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from homeport.domain.activities import parse_starts_at
from homeport.domain.errors import Invalid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T02:00:00 02:00", datetime(2030, 1, 1, tzinfo=UTC)),  # PHP's unencoded +
        ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
    ],
)
def test_readable_times(raw: str, expected: datetime) -> None:
    assert parse_starts_at(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "99999999999999999999",
        "253402300800",
        "1e400",
        "inf",
        "nan",
        "-1",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "0000-01-01",
        "1" * 65,
        "yesterday",
    ],
)
def test_out_of_range_is_invalid(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_starts_at(raw)
    assert "starts_at" in info.value.detail
