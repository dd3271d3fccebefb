"""Benchmark: activities, from request to ``complete``, and the live log stream's delay.

Starts one real ``homeport serve`` (in-process worker on, ``HOMEPORT_TEST_HANDLERS=1``)
and measures, with keep-alive standard-library HTTP clients:

(a) quick changes: ``PATCH /projects/{id}`` title changes, each answered with its
    ``project.modify.title`` activity already complete; sequential, then ``--threads``
    concurrent clients (one project each). Activities/s and per-request latency.
(b) worker activities: ``environment.redeploy``. First one at a time (request, then
    poll the activity until complete), then a burst of ``--redeploys`` across
    ``--projects`` projects (one queue each) sent back to back and polled to the end.
    Latency is request start (local clock) to the server's ``completed_at`` (same
    machine, same clock); throughput is activities over first request to last completion.
(c) log stream delay: a ``test.only.slow`` activity (inserted through the domain layer,
    as no API creates it) writes ``--log-lines`` lines; one client streams
    ``/activities/{id}/log`` and compares each line's ``data.timestamp`` (when it was
    written) with the time it arrived.

Prints median and p95 for each, then one JSON line. Figures only; never a pass/fail.

    .venv/bin/python bench/activities.py [--quick 300] [--threads 8] [--redeploys 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server import ServerProcess

from homeport.domain.activities import Phrase, record
from homeport.store.db import Database


class Client:
    """One keep-alive connection speaking JSON with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request; returns (status, parsed JSON)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, data, headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # a dropped keep-alive: reconnect once
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, data, headers)
            resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class Stats:
    """Samples in milliseconds."""

    def __init__(self, samples: list[float]) -> None:
        self.samples = sorted(samples)

    def pct(self, q: float) -> float:
        """Nearest-rank percentile."""
        if not self.samples:
            return float("nan")
        return self.samples[min(len(self.samples) - 1, int(q / 100 * len(self.samples)))]

    @property
    def median(self) -> float:
        """The median."""
        return statistics.median(self.samples) if self.samples else float("nan")

    def text(self) -> str:
        """``median .. p95 .. max``."""
        return (
            f"median {self.median:8.2f} ms  p95 {self.pct(95):8.2f} ms  "
            f"max {self.pct(100):8.2f} ms  (n={len(self.samples)})"
        )


def _at(value: str) -> float:
    """An ISO 8601 time from the API as a UNIX timestamp."""
    return datetime.fromisoformat(value).timestamp()


def admin_token(server: ServerProcess) -> str:
    """The first platform admin's access token (password grant)."""
    password = (server.data_dir / "initial-admin-password").read_text().strip()
    status, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body}")
    token: str = body["access_token"]
    return token


def create_project(client: Client, title: str) -> str:
    """A new project; returns its id."""
    status, body = client.call("POST", "/projects", {"title": title})
    if status != 201:
        raise RuntimeError(f"POST /projects: {status} {body}")
    project_id: str = body["_embedded"]["entity"]["id"]
    return project_id


# -- (a) quick changes ------------------------------------------------------------------


def _retitle(client: Client, project_id: str, count: int, label: str) -> list[float]:
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        status, body = client.call("PATCH", f"/projects/{project_id}", {"title": f"{label} {i}"})
        latencies.append((time.perf_counter() - start) * 1000)
        acts = (body or {}).get("_embedded", {}).get("activities", [])
        if status != 200 or len(acts) != 1 or acts[0]["state"] != "complete":
            raise RuntimeError(f"PATCH /projects/{project_id}: {status} {body}")
        if acts[0]["type"] != "project.modify.title":
            raise RuntimeError(f"unexpected activity {acts[0]['type']}")
    return latencies


def bench_quick(server: ServerProcess, token: str, count: int, threads: int) -> dict[str, float]:
    """(a) sequential and concurrent quick changes."""
    figures: dict[str, float] = {}
    main = Client(server.port, token)
    project_ids = [create_project(main, f"quick {i}") for i in range(threads)]
    _retitle(main, project_ids[0], 20, "warm-up")

    start = time.perf_counter()
    latencies = _retitle(main, project_ids[0], count, "sequential")
    seconds = time.perf_counter() - start
    stats = Stats(latencies)
    print(f"(a) quick, sequential   {count / seconds:8.1f} activities/s  {stats.text()}")
    figures |= {"quick_seq_per_s": count / seconds, "quick_seq_p50_ms": stats.median}
    main.close()

    per_thread = max(1, count // threads)
    clients = [Client(server.port, token) for _ in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        runs = list(
            pool.map(
                lambda i: _retitle(clients[i], project_ids[i], per_thread, f"c{i}"),
                range(threads),
            )
        )
    seconds = time.perf_counter() - start
    for client in clients:
        client.close()
    stats = Stats([ms for run in runs for ms in run])
    total = per_thread * threads
    print(f"(a) quick, {threads} concurrent {total / seconds:8.1f} activities/s  {stats.text()}")
    figures |= {"quick_conc_per_s": total / seconds, "quick_conc_p50_ms": stats.median}
    return figures


# -- (b) worker activities --------------------------------------------------------------


def _redeploy(client: Client, project_id: str) -> str:
    status, body = client.call("POST", f"/projects/{project_id}/environments/main/redeploy")
    if status != 200:
        raise RuntimeError(f"redeploy {project_id}: {status} {body}")
    activity_id: str = body["_embedded"]["activities"][0]["id"]
    return activity_id


def _wait_complete(client: Client, project_id: str, activity_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = client.call("GET", f"/projects/{project_id}/activities/{activity_id}")
        if status == 200 and body["state"] in ("complete", "cancelled"):
            if body["result"] != "success":
                raise RuntimeError(f"activity {activity_id} ended {body['result']}")
            return body
        time.sleep(0.002)
    raise RuntimeError(f"activity {activity_id} did not complete in {timeout} s")


def bench_redeploys(
    server: ServerProcess, token: str, count: int, projects: int
) -> dict[str, float]:
    """(b) redeploys one at a time, then a burst across several projects."""
    client = Client(server.port, token)
    project_ids = [create_project(client, f"redeploy {i}") for i in range(projects)]
    figures: dict[str, float] = {}

    observed, recorded = [], []
    sequential = max(10, count // 2)
    start = time.perf_counter()
    for i in range(sequential):
        project_id = project_ids[i % projects]
        sent_wall, sent = time.time(), time.perf_counter()
        activity_id = _redeploy(client, project_id)
        body = _wait_complete(client, project_id, activity_id, 60)
        observed.append((time.perf_counter() - sent) * 1000)
        recorded.append((_at(body["completed_at"]) - sent_wall) * 1000)
    seconds = time.perf_counter() - start
    print(
        f"(b) redeploy, one at a time  {sequential / seconds:8.1f} activities/s\n"
        f"    request -> completed_at  {Stats(recorded).text()}\n"
        f"    request -> seen complete {Stats(observed).text()}"
    )
    figures |= {
        "redeploy_seq_per_s": sequential / seconds,
        "redeploy_seq_p50_ms": Stats(recorded).median,
    }

    sent_at: dict[str, tuple[str, float]] = {}
    first = time.time()
    for i in range(count):
        project_id = project_ids[i % projects]
        sent_wall = time.time()
        sent_at[_redeploy(client, project_id)] = (project_id, sent_wall)
    submitted = time.time() - first
    done: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while len(done) < len(sent_at) and time.monotonic() < deadline:
        for activity_id, (project_id, _) in sent_at.items():
            if activity_id in done:
                continue
            status, body = client.call("GET", f"/projects/{project_id}/activities/{activity_id}")
            if status == 200 and body["state"] in ("complete", "cancelled"):
                done[activity_id] = body
        time.sleep(0.01)
    client.close()
    if len(done) < len(sent_at):
        raise RuntimeError(f"only {len(done)} of {len(sent_at)} redeploys completed")
    failed = [b["id"] for b in done.values() if b["result"] != "success"]
    latencies = [
        (_at(done[a]["completed_at"]) - sent_wall) * 1000 for a, (_, sent_wall) in sent_at.items()
    ]
    last = max(_at(b["completed_at"]) for b in done.values())
    throughput = count / (last - first)
    stats = Stats(latencies)
    print(
        f"(b) redeploy, burst of {count} over {projects} projects "
        f"(sent in {submitted * 1000:.0f} ms)  {throughput:8.1f} activities/s"
        f"{'  FAILED: ' + str(len(failed)) if failed else ''}\n"
        f"    request -> completed_at  {stats.text()}"
    )
    figures |= {
        "redeploy_burst_per_s": throughput,
        "redeploy_burst_p50_ms": stats.median,
        "redeploy_burst_p95_ms": stats.pct(95),
    }
    return figures


# -- (c) log stream delay ----------------------------------------------------------------


def insert_slow(server: ServerProcess, project_id: str, steps: int, delay: float) -> str:
    """A pending ``test.only.slow`` activity on the project's ``main``."""
    db = Database(f"sqlite:///{server.data_dir / 'homeport.db'}")
    try:
        with db.session(write=True) as session:
            activity = record(
                session,
                project_id=project_id,
                type="test.only.slow",
                actor=None,
                phrase=Phrase().add("benchmark"),
                environments=["main"],
                parameters={"steps": steps, "delay": delay},
                pending=True,
                queue_key=f"{project_id}:main",
            )
            activity_id = activity.id
    finally:
        db.dispose()
    return activity_id


def stream_delays(server: ServerProcess, token: str, project_id: str, activity_id: str) -> Any:
    """Read the log stream to its seal; (delays in ms, lines, sealed)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    delays: list[float] = []
    sealed = False
    try:
        conn.request(
            "GET",
            f"/projects/{project_id}/activities/{activity_id}/log",
            headers={"Authorization": f"Bearer {token}"},
        )
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"log stream: {resp.status} {resp.read()!r}")
        while True:
            raw = resp.readline()
            received = time.time()
            if not raw:
                break
            item = json.loads(raw)
            if item.get("seal"):
                sealed = True
                break
            delays.append((received - _at(item["data"]["timestamp"])) * 1000)
    finally:
        conn.close()
    return delays, sealed


def bench_log_stream(
    server: ServerProcess, token: str, lines: int, delay: float, clients: int
) -> dict[str, float]:
    """(c) how long a written log line takes to reach streaming clients."""
    client = Client(server.port, token)
    project_id = create_project(client, "log stream")
    client.close()
    activity_id = insert_slow(server, project_id, lines, delay)
    results: list[Any] = [None] * clients

    def reader(i: int) -> Callable[[], None]:
        def run() -> None:
            results[i] = stream_delays(server, token, project_id, activity_id)

        return run

    readers = [threading.Thread(target=reader(i)) for i in range(clients)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(timeout=120)
    delays = [ms for result in results if result for ms in result[0]]
    sealed = all(result and result[1] for result in results)
    stats = Stats(delays)
    print(
        f"(c) log line written -> received by {clients} streaming client(s), "
        f"{lines} steps every {delay * 1000:.0f} ms{'' if sealed else '  (NOT SEALED)'}\n"
        f"    {stats.text()}"
    )
    return {"log_delay_p50_ms": stats.median, "log_delay_p95_ms": stats.pct(95)}


def main() -> None:
    """Run the three measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", type=int, default=400, help="quick changes per run")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redeploys", type=int, default=50)
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--log-lines", type=int, default=80)
    parser.add_argument("--log-delay", type=float, default=0.033, help="seconds between lines")
    parser.add_argument("--stream-clients", type=int, default=1)
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp) / "data", {"HOMEPORT_LOG_LEVEL": "warning", "HOMEPORT_TEST_HANDLERS": "1"}
        ).start()
        try:
            token = admin_token(server)
            sections: list[tuple[str, Callable[[], dict[str, float]]]] = [
                ("quick", lambda: bench_quick(server, token, args.quick, args.threads)),
                (
                    "redeploy",
                    lambda: bench_redeploys(server, token, args.redeploys, args.projects),
                ),
                (
                    "log",
                    lambda: bench_log_stream(
                        server, token, args.log_lines, args.log_delay, args.stream_clients
                    ),
                ),
            ]
            for name, run in sections:
                try:
                    figures |= run()
                except Exception:  # figures only: report and carry on
                    print(f"({name}) did not run to the end:", file=sys.stderr)
                    traceback.print_exc()
                    print(server.log()[-3000:], file=sys.stderr)
        finally:
            server.stop()
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
