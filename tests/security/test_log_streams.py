"""Finding 12: log streams are capped per account and cost nothing while idle.

Before the fix, every open activity-log stream polled the database every 50 ms on its
own: 200 streams from one viewer raised API latency from 37 ms to over a second. The
server here runs without a worker, so the streamed activity stays pending and every
stream stays open and idle for as long as the test wants.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CAP = 40
VIEWERS = 5  # 5 x 40 = 200 idle streams


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    base: Path = tmp_path_factory.mktemp("streams")
    server = ServerProcess(
        base / "data", {"HOMEPORT_WORKER": "0", "HOMEPORT_MAX_LOG_STREAMS": str(CAP)}
    ).start()
    try:
        yield Target(server)
    finally:
        server.stop()


class Stream:
    """One open ``…/activities/{id}/log`` response, headers read, body left waiting."""

    def __init__(self, target: Target, path: str, token: str) -> None:
        url = urllib.parse.urlsplit(target.url)
        self.conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def error(self) -> dict[str, object]:
        body: dict[str, object] = json.loads(self.response.read())
        return body

    def close(self) -> None:
        self.conn.close()


def _cpu_seconds(target: Target) -> float:
    """User plus system CPU time the server process has used so far."""
    assert target.server.proc is not None
    fields = Path(f"/proc/{target.server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pending_activity(target: Target, owner: Person, pid: str) -> str:
    status, body = target.call(
        "POST", f"/projects/{pid}/environments/main/backup", owner.token, body={"safe": False}
    )
    assert status == 200, body
    return str(body["_embedded"]["activities"][0]["id"])


def test_streams_are_capped_per_account_and_idle_ones_are_cheap(target: Target) -> None:
    owner = target.person("stream-owner@example.com")
    pid = target.project(owner, "Streams")
    aid = _pending_activity(target, owner, pid)
    path = f"/projects/{pid}/activities/{aid}/log"
    viewers = [target.person(f"stream-viewer{i}@example.com") for i in range(VIEWERS)]
    for viewer in viewers:
        target.grant(pid, viewer, ["viewer", "production:viewer"])
    idle_rss, _ = target.memory_kb()

    streams: list[Stream] = []
    try:
        for viewer in viewers:
            for _ in range(CAP):
                stream = Stream(target, path, viewer.token)
                assert stream.status == 200
                streams.append(stream)
        # One more for any viewer is refused, in the error body, with Retry-After.
        extra = Stream(target, path, viewers[0].token)
        assert extra.status == 429
        assert extra.response.getheader("Retry-After")
        assert extra.response.getheader("Content-Type") == "application/json"
        error = extra.error()
        assert error["code"] == 429 and str(CAP) in str(error["message"])
        extra.close()
        # The owner is another account: unaffected.
        own = Stream(target, path, owner.token)
        assert own.status == 200
        streams.append(own)

        # 200 open, idle streams: the server stays nearly idle and quick.
        before = _cpu_seconds(target)
        started = time.monotonic()
        latencies = []
        while time.monotonic() - started < 3:
            begun = time.perf_counter()
            status, _ = target.call("GET", f"/projects/{pid}", owner.token)
            assert status == 200
            latencies.append(time.perf_counter() - begun)
            time.sleep(0.1)
        busy = (_cpu_seconds(target) - before) / (time.monotonic() - started)
        # Polling per stream kept a core busy; one shared watcher uses a sliver of one.
        assert busy < 0.5, f"server used {busy:.0%} of a core with idle streams"
        rss, _ = target.memory_kb()
        assert rss - idle_rss < 100 * 1024
        median_ms = sorted(latencies)[len(latencies) // 2] * 1000
        print(f"200 idle streams: CPU {busy:.1%}, median GET {median_ms:.1f} ms")
    finally:
        for stream in streams:
            stream.close()


def test_a_closed_stream_gives_its_slot_back(target: Target) -> None:
    owner = target.person("slot-owner@example.com")
    pid = target.project(owner, "Slots")
    aid = _pending_activity(target, owner, pid)
    path = f"/projects/{pid}/activities/{aid}/log"
    streams = [Stream(target, path, owner.token) for _ in range(CAP)]
    try:
        assert all(s.status == 200 for s in streams)
        refused = Stream(target, path, owner.token)
        assert refused.status == 429
        refused.close()
        streams.pop().close()
        for _ in range(100):  # the server notices the disconnect within moments
            again = Stream(target, path, owner.token)
            if again.status == 200:
                streams.append(again)
                break
            again.close()
            time.sleep(0.05)
        else:
            raise AssertionError("the closed stream's slot never came back")
    finally:
        for stream in streams:
            stream.close()


def test_a_finished_activity_streams_to_its_seal(target: Target) -> None:
    owner = target.person("seal-owner@example.com")
    pid = target.project(owner, "Seal")
    aid = _pending_activity(target, owner, pid)
    status, _ = target.call("POST", f"/projects/{pid}/activities/{aid}/cancel", owner.token)
    assert status == 200
    stream = Stream(target, f"/projects/{pid}/activities/{aid}/log", owner.token)
    try:
        lines = [json.loads(line) for line in stream.response.read().splitlines()]
    finally:
        stream.close()
    assert lines[-1]["seal"] is True
