"""Finding 4: a burst of concurrent writes queues; it never stalls the server.

Before the fix, 41 parallel writes filled the thread pool with writers waiting for the
writer lock while the holder could not get a thread to commit: every write stalled for
about 60 s and then answered 500, and so did the worker's claims.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WRITERS = 200
Call = tuple[str, str, str | None, Any]


def _burst(target: Target, calls: Sequence[Call]) -> list[int]:
    """Send every call at once (each from its own thread); the statuses, in order."""
    start = threading.Barrier(len(calls))

    def one(call: Call) -> int:
        method, path, token, body = call
        start.wait(timeout=60)
        status, _ = target.call(method, path, token, body=body)
        return status

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def _while(target: Target, work: Any, probe: Any) -> tuple[Any, list[float]]:
    """Run ``work`` in a thread; meanwhile time ``probe`` until it ends (bounded)."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", work()))
    thread.start()
    timings: list[float] = []
    for _ in range(200):
        if not thread.is_alive():
            break
        begun = time.perf_counter()
        probe()
        timings.append(time.perf_counter() - begun)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the burst did not finish"
    return result["value"], timings


def test_same_name_burst_gives_exactly_one_201(target: Target) -> None:
    owner = target.person("burst-owner@example.com")
    project = target.project(owner)
    path = f"/projects/{project}/variables"
    calls = [("POST", path, owner.token, {"name": "race", "value": "v"})] * WRITERS

    def read() -> None:
        status, _ = target.call("GET", f"/projects/{project}", owner.token)
        assert status == 200

    statuses, read_times = _while(target, lambda: _burst(target, calls), read)
    counts = Counter(statuses)
    assert counts == {201: 1, 409: WRITERS - 1}, counts
    assert read_times, "no read was timed during the burst"
    # Reads never queue behind writers: far below the 60 s stall the attack produced.
    assert max(read_times) < 10, read_times


def test_distinct_names_all_succeed_and_health_stays_up(target: Target) -> None:
    owner = target.person("burst-many@example.com")
    project = target.project(owner)
    path = f"/projects/{project}/variables"
    calls = [("POST", path, owner.token, {"name": f"v{i}", "value": "x"}) for i in range(WRITERS)]
    statuses, health_times = _while(target, lambda: _burst(target, calls), target.health_ms)
    assert Counter(statuses) == {201: WRITERS}
    assert max(health_times) < 10_000, health_times
    status, listed = target.call("GET", path, owner.token)
    assert status == 200 and len(listed) == WRITERS


def test_outsider_burst_does_not_delay_an_admin_write(target: Target) -> None:
    """An account with no access floods a project's write route; a real admin's write
    sent meanwhile is answered, and so is every flood request (404, never 5xx)."""
    owner = target.person("burst-admin@example.com")
    outsider = target.person("burst-outsider@example.com")
    project = target.project(owner)
    path = f"/projects/{project}/variables"
    calls = [("POST", path, outsider.token, {"name": "x", "value": "y"})] * WRITERS

    def admin_write() -> None:
        status, body = target.call(
            "POST", path, owner.token, body={"name": f"a{time.monotonic_ns()}", "value": "1"}
        )
        assert status == 201, body

    statuses, write_times = _while(target, lambda: _burst(target, calls), admin_write)
    assert set(statuses) == {404}
    assert write_times and max(write_times) < 10, write_times


def test_worker_keeps_claiming_during_a_burst(target: Target) -> None:
    """A backup requested during a write burst completes: the worker gets its turn."""
    owner = target.person("burst-worker@example.com")
    project = target.project(owner)
    status, body = target.call(
        "POST", f"/projects/{project}/environments/main/backup", owner.token, body={}
    )
    assert status in (200, 201, 202), body
    activity = body["_embedded"]["activities"][0]["id"]
    calls = [
        ("POST", f"/projects/{project}/variables", owner.token, {"name": f"w{i}", "value": "x"})
        for i in range(WRITERS)
    ]
    statuses = _burst(target, calls)
    assert all(s == 201 for s in statuses), Counter(statuses)
    state = ""
    for _ in range(300):
        _, got = target.call("GET", f"/projects/{project}/activities/{activity}", owner.token)
        state = got["state"]
        if state == "complete":
            break
        time.sleep(0.1)
    assert state == "complete" and got["result"] == "success", got
