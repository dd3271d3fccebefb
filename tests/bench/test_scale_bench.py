"""bench/scale.py runs end to end at its tiny size on SQLite (seeding, the in-process API
timings with statement counts, the real ``platform`` client against a real server) and
prints every endpoint and command; the figures themselves are never judged here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "scale.py"

API_ROWS = (
    "GET /projects/{p}/activities?count=10 (admin)",
    "GET /projects/{p}/activities?count=10 (development:viewer)",
    "GET /projects/{p}/environments/{e}/activities?count=100",
    "GET /projects",
    "GET /projects/{p}/environments",
    "GET /projects/{p}/environments/{e}/variables",
    "GET /projects/{p}/environments/{e}/backups",
    "POST /oauth2/token (api_token)",
    "GET /users/me",
)
CLI_ROWS = (
    "platform project:list",
    "platform environment:list",
    "platform variable:list -e <env>",
    "platform activity:list",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # The bench imports the homeport package of this checkout, as the tests do.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "tiny", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
    )


def test_scale_benchmark_prints_every_endpoint_with_statement_counts() -> None:
    done = _run("--repeat", "3", "--cli-repeat", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "# Scale benchmark (SQLite)" in out, out
    assert "| tiny |" in out, out  # the seeded counts
    for name in API_ROWS:
        # endpoint | size | median | p95 | statements | answer
        row = re.search(
            rf"^\| {re.escape(name)} \| tiny \| [\d.]+ \| [\d.]+ \| (\d+(-\d+)?) \|", out, re.M
        )
        assert row is not None, f"{name} missing or without statement count:\n{out}"
        # A repeated /users/me is answered from the grant cache: its one read of the
        # revocation counter goes through a raw SQLite connection, not the engine.
        least = 0 if name == "GET /users/me" else 1
        assert int(row.group(1).split("-")[0]) >= least, row.group(0)
    for name in CLI_ROWS:
        assert re.search(
            rf"^\| {re.escape(name)} \| tiny \| [\d.]+ \| [\d.]+ \| - \|", out, re.M
        ), f"{name} missing:\n{out}"
    assert "ERROR" not in out, out
    assert "## tiny/tiny factor and aims" in out, out


def test_scale_benchmark_json_without_cli() -> None:
    done = _run("--repeat", "2", "--no-cli", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert figures["backend"] == "SQLite"
    names = {r["name"] for r in figures["results"]}
    assert set(API_ROWS) <= names, names
    for result in figures["results"]:
        assert result["error"] is None, result
        assert result["n"] == 2 and result["statements"], result
