"""bench/backup.py runs end to end on a tiny tree and prints every figure it promises
(the figures themselves are never judged here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (shutil.which("zstd") and shutil.which("tar")), reason="needs zstd, tar")
def test_backup_benchmark_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "backup.py"),
            "--size-mb",
            "8",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "could not finish" not in out, out
    for label in (
        "Homeport backup, both (what the worker does)",
        "tar -c | zstd -1 -T0, then fsync (reference)",
        "zstd -d | tar -x",
    ):
        assert re.search(re.escape(label) + r"\s+\d+\.\d\d", out), (label, out)
    assert re.search(r"CPU seconds of a backup: Homeport \d+\.\d\d, tar\+zstd \d+\.\d\d", out), out
    assert re.search(r"backup, write \+ checked put\s+\d+\.\d\d", out), out
    assert re.search(r"against the fsync'd pipeline .* \d+\.\d\d", out), out
    assert list(tmp_path.iterdir()) == []  # its work directory is removed
