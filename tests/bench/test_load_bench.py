"""bench/load.py runs end to end in a tiny configuration (4 clients for 3 s, on one
SQLite node and on two PostgreSQL nodes) and prints its figures with no errors and no
lost writes (the timings themselves are never judged here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# PostgreSQL comes from scripts/ensure-test-system-packages, as for the store's tests.
pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--seconds",
            "3",
            "--clients",
            "4",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_load_benchmark_prints_its_figures_for_both_configurations() -> None:
    done = _run()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "## sqlite-1node: 1 node(s), 4 clients" in out, out
    assert "## postgres-2nodes: 2 node(s), 4 clients" in out, out
    for row in (
        "| call | calls | p50 ms | p90 ms | p99 ms | max ms | errors | back-pressure |",
        "| token exchange |",
        "| list projects |",
        "| list variables |",
        "| create variable |",
        "| read activities |",
        "| create backup |",
        "| all |",
        "(node 0: ",
        ", node 1: ",
        "aim p99 < 250 ms:",
    ):
        assert row in out, out
    assert out.count("errors: 0\n") == 2, out
    assert len(re.findall(r"^lost writes: 0 of [1-9]\d* variables created$", out, re.M)) == 2
    assert len(re.findall(r"^backups: (\d+) requested, \1 completed, 0 failed", out, re.M)) == 2
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("summary: sqlite-1node "), summary
    assert "postgres-2nodes" in summary and "0 lost writes" in summary, summary


def test_load_benchmark_json_output() -> None:
    done = _run("--only", "sqlite", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    [result] = report["results"]
    assert result["configuration"] == "sqlite-1node" and result["nodes"] == 1
    assert result["errors"] == 0 and result["lost_writes"] == 0
    assert result["calls"] > 0 and result["variables_created"] > 0
    assert set(result["latency_ms"]["all"]) == {"count", "p50", "p90", "p99", "max"}
    assert report["summary"].startswith("summary: sqlite-1node")
