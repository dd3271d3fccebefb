"""The README's "Running at scale" commands, pasted into a shell against a PostgreSQL
server this test starts: two nodes come up on one database and answer as one server.
Only the addresses (free ports), the database URL and the data dir change."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.server import free_port
from tests.pg_cluster import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## Running at scale\n(.*?)^## ", re.S | re.M)
BLOCK = re.compile(r"^```shell\n(.*?)^```$", re.S | re.M)
URL = "postgresql+psycopg2://homeport@127.0.0.1:5432/homeport"


def _scale_script() -> str:
    section = SECTION.search((ROOT / "README.md").read_text())
    assert section, "the README lost its 'Running at scale' section"
    blocks = BLOCK.findall(section.group(1))
    assert blocks, "the section has no shell block"
    return "\n".join(blocks)


def _health(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def test_the_scale_commands_start_two_nodes_on_one_database(tmp_path: Path) -> None:
    cluster = Cluster().start()
    try:
        cluster.admin('CREATE DATABASE "homeport"')
        script = _scale_script()
        assert URL in script and "127.0.0.1:8001" in script and "127.0.0.1:8002" in script
        ports = {"8001": free_port(), "8002": free_port()}
        script = script.replace(URL, cluster.url("homeport"))
        for old, new in ports.items():
            script = script.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
        script = script.replace('"$PWD/var"', f'"{tmp_path / "var"}"')
        env = {
            **os.environ,
            # Node 1's other listeners, on free ports beside the suite's other servers.
            "HOMEPORT_SSH_BIND": f"127.0.0.1:{free_port()}",
            "HOMEPORT_ROUTER_BIND": f"127.0.0.1:{free_port()}",
        }
        log = tmp_path / "shell.log"
        with log.open("wb") as out:
            shell = subprocess.Popen(
                ["bash", "-c", script + "\nwait"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            urls = [f"http://127.0.0.1:{port}" for port in ports.values()]
            for url in urls:
                assert _health(url, deadline), log.read_text(errors="replace")
            while "doctor" not in log.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.2)
            text = log.read_text(errors="replace")
            assert "Database is up to date." in text
            assert re.search(r"^ok\s+schema\s", text, re.M), text
            assert re.search(r"^ok\s+database\s", text, re.M), text
            # One server: the admin's password signs in on either node.
            password = (tmp_path / "var" / "initial-admin-password").read_text().strip()
            for url in urls:
                form = {
                    "grant_type": "password",
                    "username": "admin@example.com",
                    "password": password,
                }
                body = urllib.parse.urlencode(form).encode()
                request = urllib.request.Request(f"{url}/oauth2/token", data=body)
                with urllib.request.urlopen(request, timeout=10) as r:
                    assert r.status == 200
        finally:
            os.killpg(shell.pid, signal.SIGTERM)
            shell.wait(timeout=30)
    finally:
        cluster.stop()
