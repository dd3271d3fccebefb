"""bench/git.py runs end to end on a small repository and prints its table (the figures
themselves are never judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def test_git_benchmark_runs_every_case() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "git.py"),
            "--size-mb",
            "2",
            "--commits",
            "40",
            "--repeat",
            "1",
            "--pushes",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for case in ("limit: git clone --no-local", "HTTPS (git http-backend)", "SSH (asyncssh)"):
        assert f"| {case} |" in done.stdout
    assert "no-op push over HTTPS: median" in done.stdout
