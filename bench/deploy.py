"""Benchmark: from `git push` to a served page, and the router's cost.

Starts a real `homeport serve` (bubblewrap sandbox, nginx router) and a trivial
stdlib Python app with no hooks, so everything measured is Homeport's own work:

* push → serving **with build reuse**: the pushed commit changes only
  `.platform.app.yaml` outside the build-time keys, so the tree id and build
  configuration are unchanged ("Reusing existing build for this tree ID");
* push → serving **without reuse**: each commit changes the app's code;
  each time is the `git push` (which returns when the deploy is done) plus the first
  answer of the new version through the router;
* the router against calling the app directly: `wrk` at 32 connections for a small
  response, requests per second and p50 latency, and their ratio.

Prints medians; never fails on a timing.

    .venv/bin/python bench/deploy.py [--repeat 5] [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server import ServerProcess
from tests.security.conftest import Target

APP_YAML = """name: app
type: 'python:3.11'
web:
  commands:
    start: python3 server.py
# deploy {n}
"""
SERVER = """import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"version {n}\\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body leave in one write (no 40 ms delayed-ACK stall per request).
    wbufsize = -1

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def git(cwd: Path, *args: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def fetch(port: int, host: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host})
        response = conn.getresponse()
        return response.read().decode() if response.status == 200 else ""
    finally:
        conn.close()


def push_until_served(repo: Path, url: str, port: int, host: str, expect: str) -> float:
    """Seconds from the push's start until the router serves ``expect``."""
    started = time.perf_counter()
    git(repo, "push", "-q", url, "HEAD:refs/heads/main")
    while expect not in fetch(port, host):
        if time.perf_counter() - started > 120:
            raise RuntimeError("the new version was never served")
        time.sleep(0.01)
    return time.perf_counter() - started


def wrk(url: str, host: str, seconds: int, connections: int) -> tuple[float, float]:
    """Requests per second and p50 latency (ms) measured by wrk."""
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Host: {host}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", done)
    assert p50 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="homeport-bench-deploy-"))
    server = ServerProcess(work / "data", router=True).start()
    try:
        target = Target(server)
        owner = target.person("bench@example.com")
        pid = target.project(owner, "Bench")
        repo = work / "app"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        url = f"http://b:{owner.api_token}@127.0.0.1:{server.port}/git/{pid}.git"
        router_port = server.router_port
        assert router_port is not None
        _status, env = target.call("GET", f"/projects/{pid}/environments/main", owner.token)
        host = f"{env['machine_name']}-{pid}.localhost"

        def commit(n: int, code: int) -> None:
            (repo / ".platform.app.yaml").write_text(APP_YAML.format(n=n))
            (repo / "server.py").write_text(SERVER.format(n=code))
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", f"deploy {n}")

        commit(0, 0)
        first = push_until_served(repo, url, router_port, host, "version 0")
        reuse: list[float] = []
        fresh: list[float] = []
        for i in range(1, args.repeat + 1):
            # Same tree, same build configuration: the build is reused.
            commit(2 * i, i - 1)
            reuse.append(push_until_served(repo, url, router_port, host, f"version {i - 1}"))
            # New code: a new tree, a new build.
            commit(2 * i + 1, i)
            fresh.append(push_until_served(repo, url, router_port, host, f"version {i}"))
        _status, current = target.call(
            "GET", f"/projects/{pid}/environments/main/deployments/current", owner.token
        )
        app_port = _app_port(server, pid)
        direct = [wrk(f"http://127.0.0.1:{app_port}/", host, args.seconds, args.connections)]
        routed = [wrk(f"http://127.0.0.1:{router_port}/", host, args.seconds, args.connections)]
        direct.append(wrk(f"http://127.0.0.1:{app_port}/", host, args.seconds, args.connections))
        routed.append(wrk(f"http://127.0.0.1:{router_port}/", host, args.seconds, args.connections))
        # One connection: the latency the router adds when nothing queues.
        single_direct = wrk(f"http://127.0.0.1:{app_port}/", host, args.seconds, 1)
        single_routed = wrk(f"http://127.0.0.1:{router_port}/", host, args.seconds, 1)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    d_rps = statistics.median(r for r, _ in direct)
    r_rps = statistics.median(r for r, _ in routed)
    d_p50 = statistics.median(p for _, p in direct)
    r_p50 = statistics.median(p for _, p in routed)
    print(f"app type: {current['webapps']['app']['type']}, first deploy {first:.2f} s")
    print("| measure | median | aim |")
    print("|---|---|---|")
    print(f"| push → serving, build reused | {statistics.median(reuse):.2f} s | <= 1 s |")
    print(f"| push → serving, new build | {statistics.median(fresh):.2f} s | (reported) |")
    print(f"| direct, {args.connections} connections | {d_rps:,.0f} req/s, p50 {d_p50:.2f} ms | |")
    print(f"| through the router | {r_rps:,.0f} req/s, p50 {r_p50:.2f} ms | |")
    print(f"| router / direct throughput | {r_rps / d_rps:.2f}x | >= 0.7x |")
    print(
        f"| added p50 latency, {args.connections} connections | {r_p50 - d_p50:.2f} ms | <= 1 ms |"
    )
    added_single = single_routed[1] - single_direct[1]
    print(
        f"| added p50 latency, 1 connection | {added_single:.2f} ms "
        f"({single_direct[1]:.2f} -> {single_routed[1]:.2f}) | |"
    )
    return 0


def _app_port(server: ServerProcess, pid: str) -> int:
    """The app's own port, read from the deployment record in the database."""
    import json
    import sqlite3

    con = sqlite3.connect(server.data_dir / "homeport.db")
    try:
        (processes,) = con.execute(
            "SELECT processes FROM deployments WHERE project_id = ?", (pid,)
        ).fetchone()
    finally:
        con.close()
    port: int = json.loads(processes)["apps"]["app"]["port"]
    return port


if __name__ == "__main__":
    raise SystemExit(main())
