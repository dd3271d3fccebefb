"""bench/deploy.py runs end to end with one round and one-second loads, and prints its
table (the figures themselves are never judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_benchmark_runs_every_case() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "deploy.py"), "--repeat", "1", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for row in (
        "| push → serving, build reused |",
        "| push → serving, new build |",
        "| through the router |",
        "| router / direct throughput |",
        "| added p50 latency, 32 connections |",
        "| added p50 latency, 1 connection |",
    ):
        assert row in done.stdout, done.stdout
