"""bench/cron.py runs end to end in a tiny configuration (200 crons for ten simulated
minutes, four real runs) and prints its figures and aims (the figures themselves are
never judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def test_cron_benchmark_prints_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "cron.py"),
            "--repeats",
            "1",
            "--environments",
            "20",
            "--crons-per-env",
            "10",
            "--sim-seconds",
            "600",
            "--runs",
            "4",
            "--real-envs",
            "2",
            "--real-crons",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "## Simulated: 200 crons over 20 environments" in out, out
    for row in (
        "| scheduler CPU / simulated time |",
        "| runs started / expected |",
        "| simulated lateness p50 / p99 / max |",
        "| activity rows at the end (pending) |",
        "| lateness (`started_at`) |",
        "| done (`completed_at`) |",
        "## Real: 4 runs, 2 environment(s) x 2 crons",
        "scheduler CPU ≤ 5 % of one core at 200 crons:",
        "p99 lateness ≤ 1 s for real runs:",
        "failed runs: 0",
    ):
        assert row in out, out
    # Every run the specs call for was started (the stand-in worker completes each one).
    started = next(line for line in out.splitlines() if "runs started / expected" in line)
    counts = started.split("|")[2].split("/")
    assert counts[0].strip() == counts[1].strip(), started
