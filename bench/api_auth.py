"""Benchmark: token exchange, authenticated GET /users/me, and a bare ASGI baseline.

Starts one ``homeport serve`` process and one uvicorn process serving a bare "hello"
ASGI app, then drives each with 32 concurrent keep-alive connections. Prints req/s and
p50/p99 latency, and the ratio (users/me) / (hello). Figures only; never a pass/fail.

    .venv/bin/python bench/api_auth.py [--duration 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server import ServerProcess, free_port

from bench.loadgen import http_request, run_load


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    """Run the loads and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", {"HOMEPORT_LOG_LEVEL": "warning"}).start()
        hello_port, framework_port = free_port(), free_port()
        script = str(Path(__file__).with_name("hello_app.py"))
        hello = subprocess.Popen([sys.executable, script, str(hello_port)], env=os.environ.copy())
        framework = subprocess.Popen(
            [sys.executable, script, str(framework_port), "fastapi"], env=os.environ.copy()
        )
        try:
            _wait(f"http://127.0.0.1:{hello_port}/")
            _wait(f"http://127.0.0.1:{framework_port}/")
            server.homeport("user:create", "bench@example.com", "--machine")
            token = server.homeport("api-token:create", "bench@example.com", "--name", "b")
            api_token = token.stdout.strip()
            access = server.exchange(api_token)
            host = f"127.0.0.1:{server.port}"
            form = urllib.parse.urlencode(
                {"grant_type": "api_token", "api_token": api_token}
            ).encode()
            basic = base64.b64encode(b"platform-cli:").decode()
            exchange_req = http_request(
                "POST",
                "/oauth2/token",
                host,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": f"Basic {basic}",
                },
                form,
            )
            me_req = http_request("GET", "/users/me", host, {"Authorization": f"Bearer {access}"})
            hello_req = http_request("GET", "/", f"127.0.0.1:{hello_port}")
            framework_req = http_request("GET", "/", f"127.0.0.1:{framework_port}")

            results = {}
            for label, port, req in (
                ("(a) token exchange", server.port, exchange_req),
                ("(b) GET /users/me", server.port, me_req),
                ("(c) bare ASGI hello", hello_port, hello_req),
                ("(d) empty FastAPI route", framework_port, framework_req),
            ):
                run_load("127.0.0.1", port, req, args.concurrency, 1.0)  # warm-up
                results[label] = run_load("127.0.0.1", port, req, args.concurrency, args.duration)
                print(results[label].line(label), flush=True)
            b = results["(b) GET /users/me"].rps
            c = results["(c) bare ASGI hello"].rps
            d = results["(d) empty FastAPI route"].rps
            print(f"ratio b/c = {b / c:.3f}   (aim >= 0.15)")
            print(f"ratio b/d = {b / d:.3f}   (the framework's own ceiling is d)")
            print(f"exchange = {results['(a) token exchange'].rps:.0f}/s   (aim >= 500/s)")
            print(json.dumps({k: round(v.rps, 1) for k, v in results.items()}))
        finally:
            for proc in (hello, framework):
                proc.terminate()
                proc.wait()
            server.stop()


if __name__ == "__main__":
    main()
