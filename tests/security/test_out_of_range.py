"""Finding 10: out-of-range parameters answer 400, never 500 and a reset connection.

Before the fix ``starts_at=99999999999999999999`` (OverflowError) and
``starts_at=253402300800`` (year 10000) answered 500 on the project and environment
activity lists.
"""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

STARTS_AT = [
    "99999999999999999999",
    "253402300800",
    "1e400",
    "inf",
    "nan",
    "-1",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00%2B01:00",
    "0000-01-01",
    "1" * 10_000,
]
BIG = "9" * 40


def _is_error(target: Target, path: str, token: str, status: int) -> None:
    got, body = target.call("GET", path, token)
    assert got == status, (path[:120], got, body)
    assert set(body) == {"status", "message", "code", "detail", "title"}
    assert body["code"] == status


def test_out_of_range_parameters_answer_400(target: Target) -> None:
    owner = target.person("range-owner@example.com")
    viewer = target.person("range-viewer@example.com")
    pid = target.project(owner, "Ranges")
    target.grant(pid, viewer, ["viewer", "production:viewer"])
    status, listed = target.call("GET", f"/projects/{pid}/activities", viewer.token)
    assert status == 200 and listed
    aid = listed[0]["id"]
    for base in (f"/projects/{pid}/activities", f"/projects/{pid}/environments/main/activities"):
        for value in STARTS_AT:
            _is_error(target, f"{base}?starts_at={value}", viewer.token, 400)
        for value in (BIG, "-1", "0"):
            _is_error(target, f"{base}?count={value}", viewer.token, 400)
    log = f"/projects/{pid}/activities/{aid}/log"
    for query in (f"start_at={BIG}", "start_at=-1", f"max_items={BIG}", f"max_delay={BIG}"):
        _is_error(target, f"{log}?{query}", viewer.token, 400)
    _is_error(target, f"/ssh_keys/{BIG}", viewer.token, 404)
    _is_error(target, f"/ssh_keys/-{BIG}", viewer.token, 404)
    # The server is unharmed, and sensible values still work.
    assert target.health_ms() < 5_000
    status, _ = target.call(
        "GET", f"/projects/{pid}/activities?starts_at=2030-01-01T00:00:00Z", viewer.token
    )
    assert status == 200


def test_max_delay_ends_a_quiet_stream_unsealed(target: Target) -> None:
    owner = target.person("delay-owner@example.com")
    pid = target.project(owner, "Delay")
    status, body = target.call(
        "POST", f"/projects/{pid}/environments/main/backup", owner.token, body={"safe": False}
    )
    assert status == 200, body
    aid = body["_embedded"]["activities"][0]["id"]
    # Read the whole log of the (finishing) activity in rounds of 200 ms, as the JS
    # client does; each round ends by itself, the last one with the seal.
    cursor, lines = 0, []
    for _ in range(200):
        status, text = target.call(
            "GET",
            f"/projects/{pid}/activities/{aid}/log?start_at={cursor}&max_delay=200",
            owner.token,
        )
        assert status == 200
        raw = json.dumps(text) if isinstance(text, dict) else str(text or "")
        chunk = [line for line in raw.splitlines() if line]
        lines += chunk
        if lines and '"seal": true' in lines[-1]:
            break
        if chunk:
            cursor = int(chunk[-1].split('"_id": "')[1].split('"')[0])
    else:
        raise AssertionError("the log never sealed")
    assert len(lines) >= 2
