"""Benchmark: operating at scale. Concurrent CLI-shaped clients against one node on
SQLite and against two nodes on PostgreSQL.

Two configurations, each started fresh:

* ``sqlite-1node``: one ``homeport serve`` (SQLite, its in-process worker);
* ``postgres-2nodes``: a throwaway PostgreSQL (``tests/pg_cluster.py``, Debian's
  packages), two ``homeport serve`` nodes and two ``homeport worker`` processes on one
  database sharing one data dir (``HOMEPORT_WORKER=0``, ``HOMEPORT_SCHEDULER=0``,
  ``HOMEPORT_SSH_BIND=off`` on the nodes); clients are spread round-robin over them.

Setup, over the API as the platform admin: one project, ``--environments`` environments
(``main`` and branches of it), ``--users`` machine users (project admins, through
``POST /projects/{id}/machine-users``) and one API token per client.

Then ``--clients`` clients (asyncio, one keep-alive HTTP/1.1 connection each) loop for
``--seconds`` over a weighted mix of what the CLI does (see ``MIX``): token exchange
(``grant_type=api_token``), ``GET /projects``, list an environment's variables, create
one with a unique name, read the project's last ten activities, and now and then a
backup. Every call's latency and status is recorded. Errors are 5xx answers,
connection failures and any status the call does not expect; ``429`` with
``Retry-After`` (the server's documented "slow down") is counted apart as
back-pressure, never as a success.

Afterwards (not timed): the activities the load queued (backups, and the redeploy each
variable change causes) are waited for, bounded by ``--settle``; every variable that
got a 201 must be listed on every node (else it is a lost write), and every backup
activity must have completed with success (else it counts as an error).

Prints per configuration the calls, throughput overall and per node, latency
p50/p90/p99/max per call type and overall, errors, back-pressure, lost writes and
backups, then a one-line summary comparing the configurations. Figures only: the exit
status is 1 on errors or lost writes, never on a timing.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 50] [--only sqlite|postgres]
        [--environments 4] [--users 5] [--settle 300] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import pg_cluster
from tests.e2e.server import BIN, ServerProcess
from tests.security.conftest import Target

# The mix: (call, weight). Roughly what a CLI session does: mostly reads, a fifth
# writes, an occasional backup; a fresh token now and then (each CLI start exchanges).
MIX: tuple[tuple[str, int], ...] = (
    ("token exchange", 10),
    ("list projects", 15),
    ("list variables", 25),
    ("create variable", 20),
    ("read activities", 28),
    ("create backup", 2),
)
CALLS = tuple(name for name, _ in MIX)
WEIGHTS = tuple(weight for _, weight in MIX)
# What each call answers when it worked. `#backup` answers 200 with its activity; 201
# and 202 are accepted too, should it ever answer as other mutations do.
EXPECTED: dict[str, frozenset[int]] = {
    "token exchange": frozenset({200}),
    "list projects": frozenset({200}),
    "list variables": frozenset({200}),
    "create variable": frozenset({201}),
    "read activities": frozenset({200}),
    "create backup": frozenset({200, 201, 202}),
}
BACK_PRESSURE = frozenset({429})  # with Retry-After: the server asks the client to wait
CONNECTION_ERROR = 0  # the "status" recorded when no answer came
REQUEST_TIMEOUT = 60.0
BASIC_CLI = "Basic " + base64.b64encode(b"platform-cli:").decode()
AIM_P99_MS = 250.0
LOG_ENV = {"HOMEPORT_LOG_LEVEL": "warning"}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values`` (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """The machine's (busy, total) CPU seconds so far, all cores (``/proc/stat``)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan, math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


# --- HTTP --------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection (asyncio streams; no third-party client, so
    the load generator costs as little CPU as it can on the machine it shares)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; returns (status, lower-cased headers, body)."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, limit=1 << 20
            )
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        reader = self.reader
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        answer: dict[str, str] = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            answer[key.strip().lower()] = value.strip()
        if "content-length" in answer:
            data = await reader.readexactly(int(answer["content-length"]))
        elif answer.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked(reader)
        else:
            data = await reader.read()
            self.close()
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything one configuration's load recorded."""

    nodes: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: {c: Counter() for c in CALLS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALLS, 0))
    back_pressure: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALLS, 0))
    per_node: list[int] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)  # (environment, name)
    backups: list[str] = field(default_factory=list)  # activity ids
    samples: list[str] = field(default_factory=list)  # a few error descriptions
    seconds: float = 0.0
    client_cpu: float = 0.0

    def __post_init__(self) -> None:
        self.per_node = [0] * self.nodes

    def record(
        self, call: str, node: int, status: int, ms: float | None, headers: dict[str, str]
    ) -> bool:
        """One call's outcome; True when it is what the call expects."""
        self.statuses[call][status] += 1
        self.per_node[node] += 1
        if ms is not None:
            self.latencies[call].append(ms)
        if status in EXPECTED[call]:
            return True
        if status in BACK_PRESSURE and "retry-after" in headers:
            self.back_pressure[call] += 1
        else:
            self.errors[call] += 1
        return False

    def sample(self, text: str) -> None:
        if len(self.samples) < 10:
            self.samples.append(text)

    @property
    def calls(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class World:
    """What setup made: the project, its environments, a token per client."""

    project: str
    environments: list[str]
    api_tokens: list[str]


# --- the clients -------------------------------------------------------------------------


async def run_client(
    index: int,
    node: int,
    port: int,
    world: World,
    deadline: float,
    figures: Figures,
    rng: random.Random,
) -> None:
    """One CLI-shaped client: exchange its token, then the weighted mix until the end."""
    conn = Connection(port)
    pid = world.project
    exchange_form = urllib.parse.urlencode(
        {"grant_type": "api_token", "api_token": world.api_tokens[index]}
    ).encode()
    access: str | None = None
    sequence = 0
    try:
        while time.perf_counter() < deadline:
            call = "token exchange" if access is None else rng.choices(CALLS, WEIGHTS)[0]
            env = rng.choice(world.environments)
            headers = {"Authorization": f"Bearer {access}"}
            body = b""
            name = ""
            if call == "token exchange":
                method, path = "POST", "/oauth2/token"
                headers = {
                    "Authorization": BASIC_CLI,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                body = exchange_form
            elif call == "list projects":
                method, path = "GET", "/projects"
            elif call == "list variables":
                method, path = "GET", f"/projects/{pid}/environments/{env}/variables"
            elif call == "create variable":
                sequence += 1
                name = f"load_c{index}_{sequence}"
                method, path = "POST", f"/projects/{pid}/environments/{env}/variables"
                headers["Content-Type"] = "application/json"
                body = json.dumps({"name": name, "value": f"value {sequence}"}).encode()
            elif call == "read activities":
                method, path = "GET", f"/projects/{pid}/activities?count=10"
            else:
                method, path = "POST", f"/projects/{pid}/environments/{env}/backup"
                headers["Content-Type"] = "application/json"
                body = b"{}"
            began = time.perf_counter()
            try:
                status, answer, data = await asyncio.wait_for(
                    conn.request(method, path, headers, body), REQUEST_TIMEOUT
                )
            except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as exc:
                conn.close()
                figures.record(call, node, CONNECTION_ERROR, None, {})
                figures.sample(f"{call} on node {node}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)
                continue
            ms = (time.perf_counter() - began) * 1000
            if not figures.record(call, node, status, ms, answer):
                figures.sample(f"{call} on node {node}: {status} {data[:300]!r}")
                if call == "token exchange":
                    await asyncio.sleep(0.1)  # no token yet: do not spin
                continue
            if call == "token exchange":
                access = json.loads(data)["access_token"]
            elif call == "create variable":
                figures.created.append((env, name))
            elif call == "create backup":
                for activity in json.loads(data)["_embedded"]["activities"]:
                    if activity["type"] == "environment.backup":
                        figures.backups.append(activity["id"])
    finally:
        conn.close()


async def drive(
    nodes: list[ServerProcess], world: World, clients: int, seconds: float, seed: int
) -> Figures:
    """All clients at once for ``seconds``; client i talks to node i mod len(nodes)."""
    figures = Figures(len(nodes))
    cpu0, began = time.process_time(), time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(
        *(
            run_client(
                i,
                i % len(nodes),
                nodes[i % len(nodes)].port,
                world,
                deadline,
                figures,
                random.Random(seed * 1000 + i),
            )
            for i in range(clients)
        )
    )
    figures.seconds = time.perf_counter() - began
    figures.client_cpu = time.process_time() - cpu0
    return figures


# --- setup and checks (over the API, not timed) ----------------------------------------


def expect(status: int, body: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise RuntimeError(f"{what}: {status} {str(body)[:500]}")
    return body


def unsettled(target: Target, pid: str) -> int:
    """Activities of the project still pending or in progress (up to 1000)."""
    status, body = target.call(
        "GET",
        f"/projects/{pid}/activities?state=pending,in_progress&count=1000",
        target.admin_token,
    )
    return len(expect(status, body, 200, "list activities"))


def settle(target: Target, pid: str, limit: float) -> tuple[float, int]:
    """Wait until the project's activities are done; (seconds waited, still unsettled)."""
    began = time.monotonic()
    while True:
        left = unsettled(target, pid)
        if left == 0 or time.monotonic() - began > limit:
            return time.monotonic() - began, left
        time.sleep(0.25)


def setup(target: Target, clients: int, environments: int, users: int) -> World:
    """A project, its environments, machine users and one API token per client."""
    pid = target.project(None, "Load")
    names = ["main"] + [f"load-{n}" for n in range(1, environments)]
    for name in names[1:]:
        status, body = target.call(
            "POST",
            f"/projects/{pid}/environments/main/branch",
            target.admin_token,
            body={"name": name},
        )
        expect(status, body, 201, f"branch {name}")
    waited, left = settle(target, pid, 120)
    if left:
        raise RuntimeError(f"the branches did not finish in {waited:.0f} s")
    accounts = []
    for n in range(users):
        status, body = target.call(
            "POST",
            f"/projects/{pid}/machine-users",
            target.admin_token,
            body={"email": f"load{n}@example.com", "name": f"Load {n}", "role": "admin"},
        )
        accounts.append(expect(status, body, 201, "machine user")["_embedded"]["entity"]["id"])
    tokens = []
    for i in range(clients):
        status, body = target.call(
            "POST",
            f"/users/{accounts[i % users]}/api-tokens",
            target.admin_token,
            body={"name": f"client {i}"},
        )
        tokens.append(expect(status, body, 201, "API token")["token"])
    return World(pid, names, tokens)


@dataclass
class Checks:
    """What was verified after the load."""

    backlog: int  # activities pending or in progress when the load stopped
    settle_seconds: float
    unsettled: int
    lost_writes: int
    lost_samples: list[str]
    backups_ok: int
    backups_failed: int  # not complete, or not a success


def verify(
    nodes: list[ServerProcess], target: Target, world: World, figures: Figures, limit: float
) -> Checks:
    """Wait for the queued activities, then read every write back on every node."""
    pid = world.project
    backlog = unsettled(target, pid)
    waited, left = settle(target, pid, limit)
    created: dict[str, set[str]] = {env: set() for env in world.environments}
    for env, name in figures.created:
        created[env].add(name)
    lost: set[tuple[str, str]] = set()
    for node in nodes:
        for env in world.environments:
            status, body = node.call(
                "GET", f"/projects/{pid}/environments/{env}/variables", target.admin_token
            )
            listed = {v["name"] for v in expect(status, body, 200, "list variables")}
            lost |= {(env, name) for name in created[env] - listed}
    ok = failed = 0
    for activity_id in figures.backups:
        status, body = target.call(
            "GET", f"/projects/{pid}/activities/{activity_id}", target.admin_token
        )
        if status == 200 and body["state"] == "complete" and body["result"] == "success":
            ok += 1
        else:
            failed += 1
            state = (body or {}).get("state") if isinstance(body, dict) else body
            figures.sample(f"backup activity {activity_id}: {status} {state}")
    samples = [f"{env}/{name}" for env, name in sorted(lost)[:5]]
    return Checks(backlog, waited, left, len(lost), samples, ok, failed)


# --- configurations ----------------------------------------------------------------------


@dataclass
class Deployment:
    """The processes of one configuration."""

    name: str
    nodes: list[ServerProcess]
    pids: dict[str, int]  # label -> pid, for CPU figures


@contextmanager
def sqlite_one_node(work: Path) -> Iterator[Deployment]:
    """One ``homeport serve`` on SQLite with its in-process worker."""
    server = ServerProcess(work / "data", {**LOG_ENV, "HOMEPORT_SSH_BIND": "off"}).start()
    try:
        assert server.proc is not None
        yield Deployment("sqlite-1node", [server], {"node": server.proc.pid})
    finally:
        server.stop()


@contextmanager
def postgres_two_nodes(work: Path) -> Iterator[Deployment]:
    """Two ``homeport serve`` nodes and two ``homeport worker`` on one PostgreSQL."""
    cluster = pg_cluster.Cluster().start()  # under /tmp: PostgreSQL's own user reaches it
    workers: list[subprocess.Popen[bytes]] = []
    started: list[ServerProcess] = []
    try:
        cluster.admin('CREATE DATABASE "homeport"')
        shared = {
            **LOG_ENV,
            "HOMEPORT_DATABASE_URL": cluster.url("homeport"),
            "HOMEPORT_WORKER": "0",
            "HOMEPORT_SCHEDULER": "0",
            "HOMEPORT_SSH_BIND": "off",
        }
        started = [ServerProcess(work / "data", shared) for _ in range(2)]
        # Both at once, as nodes do: one migrates and makes the first admin.
        starting = [threading.Thread(target=node.start) for node in started]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        if not all(node.proc is not None and node.proc.poll() is None for node in started):
            raise RuntimeError("a node did not start:\n" + "\n".join(n.log() for n in started))
        for number in range(2):
            log = (work / f"worker-{number}.log").open("ab")
            workers.append(
                subprocess.Popen(
                    [str(BIN / "homeport"), "worker"],
                    env=started[0].env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        pids = {f"node {n}": node.proc.pid for n, node in enumerate(started) if node.proc}
        pids |= {f"worker {n}": proc.pid for n, proc in enumerate(workers)}
        yield Deployment("postgres-2nodes", started, pids)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for node in started:
            if node.proc is not None:
                node.stop()
        cluster.stop()


@dataclass
class Result:
    """One configuration's figures and checks."""

    name: str
    clients: int
    figures: Figures
    checks: Checks
    cpu: dict[str, float]  # label -> share of one core during the load
    load_before: float  # the machine's 1-minute load average when the load started

    @property
    def failed(self) -> bool:
        return bool(
            self.figures.error_count or self.checks.lost_writes or self.checks.backups_failed
        )

    def latency(self, call: str | None = None) -> dict[str, float | int]:
        values = (
            self.figures.latencies[call]
            if call
            else [ms for c in CALLS for ms in self.figures.latencies[c]]
        )
        return {
            "count": len(values),
            "p50": percentile(values, 50),
            "p90": percentile(values, 90),
            "p99": percentile(values, 99),
            "max": max(values, default=math.nan),
        }

    def as_json(self) -> dict[str, Any]:
        f, c = self.figures, self.checks
        return {
            "configuration": self.name,
            "nodes": f.nodes,
            "clients": self.clients,
            "seconds": round(f.seconds, 3),
            "calls": f.calls,
            "throughput": round(f.calls / f.seconds, 1),
            "throughput_per_node": [round(n / f.seconds, 1) for n in f.per_node],
            "latency_ms": {call: _rounded(self.latency(call)) for call in CALLS}
            | {"all": _rounded(self.latency())},
            "statuses": {call: dict(f.statuses[call]) for call in CALLS},
            "errors": f.error_count,
            "errors_by_call": f.errors,
            "back_pressure": sum(f.back_pressure.values()),
            "back_pressure_by_call": f.back_pressure,
            "variables_created": len(f.created),
            "lost_writes": c.lost_writes,
            "backups_requested": len(f.backups),
            "backups_completed": c.backups_ok,
            "backups_failed": c.backups_failed,
            "backlog_at_end": c.backlog,
            "settle_seconds": round(c.settle_seconds, 2),
            "unsettled": c.unsettled,
            "cpu_share": {k: None if math.isnan(v) else round(v, 3) for k, v in self.cpu.items()},
            "client_cpu_share": round(f.client_cpu / f.seconds, 3),
            "load_average_before": round(self.load_before, 2),
            "cores": os.cpu_count(),
            "error_samples": f.samples,
        }


def _rounded(values: dict[str, float | int]) -> dict[str, float | int | None]:
    """Milliseconds for JSON: two decimals, null for "no sample" (JSON has no NaN)."""
    return {k: None if math.isnan(v) else round(v, 2) for k, v in values.items()}


def run_configuration(name: str, clients: int, seconds: float, args: argparse.Namespace) -> Result:
    """Start one configuration, set it up, load it, verify it, stop it."""
    work = Path(tempfile.mkdtemp(prefix=f"homeport-bench-load-{name}-"))
    maker = sqlite_one_node if name == "sqlite-1node" else postgres_two_nodes
    try:
        with maker(work) as deployment:
            target = Target(deployment.nodes[0])
            world = setup(target, clients, args.environments, args.users)
            cpu0 = {label: proc_cpu(pid) for label, pid in deployment.pids.items()}
            load_before = os.getloadavg()[0]
            busy0, total0 = machine_busy()
            figures = asyncio.run(drive(deployment.nodes, world, clients, seconds, args.seed))
            busy1, total1 = machine_busy()
            cpu = {
                label: (proc_cpu(pid) - cpu0[label]) / figures.seconds
                for label, pid in deployment.pids.items()
            }
            # Everything on the machine (PostgreSQL included), as a share of all cores.
            cpu["machine"] = (busy1 - busy0) / (total1 - total0) if total1 > total0 else math.nan
            checks = verify(deployment.nodes, target, world, figures, args.settle)
            result = Result(name, clients, figures, checks, cpu, load_before)
            if result.failed:
                for node in deployment.nodes:
                    print(f"--- {node.log_path.name} (tail)", file=sys.stderr)
                    print(node.log()[-3000:], file=sys.stderr)
            return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- report ------------------------------------------------------------------------------


def ms(value: float | int) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else f"{value:.1f}"


def report(result: Result) -> None:
    """Print one configuration's figures (markdown)."""
    f, c = result.figures, result.checks
    print(f"## {result.name}: {f.nodes} node(s), {result.clients} clients, {f.seconds:.1f} s")
    print()
    print("| call | calls | p50 ms | p90 ms | p99 ms | max ms | errors | back-pressure |")
    print("|---|---|---|---|---|---|---|---|")
    for call in CALLS:
        lat = result.latency(call)
        print(
            f"| {call} | {sum(f.statuses[call].values())} | {ms(lat['p50'])} | "
            f"{ms(lat['p90'])} | {ms(lat['p99'])} | {ms(lat['max'])} | {f.errors[call]} | "
            f"{f.back_pressure[call]} |"
        )
    lat = result.latency()
    print(
        f"| all | {f.calls} | {ms(lat['p50'])} | {ms(lat['p90'])} | {ms(lat['p99'])} | "
        f"{ms(lat['max'])} | {f.error_count} | {sum(f.back_pressure.values())} |"
    )
    print()
    per_node = ", ".join(f"node {n}: {calls / f.seconds:.1f}" for n, calls in enumerate(f.per_node))
    print(f"total calls: {f.calls}")
    print(f"throughput: {f.calls / f.seconds:.1f} calls/s ({per_node})")
    print(f"errors: {f.error_count}")
    print(f"back-pressure: {sum(f.back_pressure.values())}")
    print(f"lost writes: {c.lost_writes} of {len(f.created)} variables created")
    print(
        f"backups: {len(f.backups)} requested, {c.backups_ok} completed, "
        f"{c.backups_failed} failed or unfinished"
    )
    print(
        f"activities pending when the load stopped: {c.backlog}"
        f"{'+' if c.backlog >= 1000 else ''}; settled in {c.settle_seconds:.1f} s"
        f"{f' ({c.unsettled} still unsettled)' if c.unsettled else ''}"
    )
    cpu = ", ".join(
        f"{label} {share * 100:.0f} %" for label, share in result.cpu.items() if label != "machine"
    )
    print(
        f"CPU during the load (% of one core): {cpu}, load generator "
        f"{f.client_cpu / f.seconds * 100:.0f} %; the whole machine "
        f"{result.cpu['machine'] * 100:.0f} % busy of {os.cpu_count()} cores "
        f"(1-minute load average {result.load_before:.1f} when the load started: the "
        f"load generator shares the machine, and so does anything else running)"
    )
    p99 = lat["p99"]
    print(f"aim p99 < {AIM_P99_MS:.0f} ms: {'met' if p99 < AIM_P99_MS else 'not met'}")
    if c.lost_samples:
        print(f"lost, e.g.: {', '.join(c.lost_samples)}")
    if f.samples:
        print("error samples:")
        for text in f.samples:
            print(f"- {text}")
    print()


def summary(results: list[Result]) -> str:
    """One line comparing the configurations."""
    parts = []
    for r in results:
        f, lat = r.figures, r.latency()
        rate = f.calls / f.seconds
        parts.append(
            f"{r.name} {rate:.0f} calls/s ({rate / f.nodes:.0f}/node) "
            f"p50 {lat['p50']:.0f} ms p99 {lat['p99']:.0f} ms, "
            f"{f.error_count} errors, {r.checks.lost_writes} lost writes"
        )
    if len(results) == 2:
        a, b = (r.figures.calls / r.figures.seconds for r in results)
        parts.append(f"{results[1].name} / {results[0].name} throughput {b / a:.2f}x")
    return "summary: " + " | ".join(parts)


def main() -> int:
    """Run the configurations and print their figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one configuration")
    parser.add_argument("--environments", type=int, default=4, help="main plus branches")
    parser.add_argument("--users", type=int, default=5, help="machine users sharing clients")
    parser.add_argument(
        "--settle", type=float, default=300.0, help="seconds to wait for queued activities"
    )
    parser.add_argument("--seed", type=int, default=1, help="the clients' random mix")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    if args.clients < 1 or args.users < 1 or args.environments < 1:
        parser.error("--clients, --users and --environments must be at least 1")

    names = []
    if args.only in (None, "sqlite"):
        names.append("sqlite-1node")
    if args.only in (None, "postgres"):
        if not pg_cluster.available():
            print(
                "PostgreSQL's server programs are not installed "
                "(apt-get install postgresql), or pass --only sqlite",
                file=sys.stderr,
            )
            return 2
        names.append("postgres-2nodes")
    results = []
    for name in names:
        result = run_configuration(name, args.clients, args.seconds, args)
        results.append(result)
        if not args.json:
            report(result)
    line = summary(results)
    if args.json:
        print(json.dumps({"results": [r.as_json() for r in results], "summary": line}, indent=2))
    else:
        print(line)
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
