"""The README's shell blocks, pasted in order into one fresh shell against a real
`homeport serve` (with its router): they must keep working as written, so they cannot
drift from what Homeport does. Only the addresses change (the test server listens on
free ports) and the data dir (the test server's)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)


def readme_blocks() -> list[str]:
    """Every `sh` block of the README but the quick start's `make` commands."""
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    return [b for b in blocks if not b.lstrip().startswith("make ")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("readme") / "data", router=True).start()
    try:
        yield started
    finally:
        started.stop()


def test_the_readme_blocks_run_in_order(server: ServerProcess, tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 5, "the README lost its walk-through"
    script = "\n".join(blocks)
    assert "http://127.0.0.1:8000" in script and '"$PWD/var"' in script
    script = script.replace("http://127.0.0.1:8000", server.url)
    script = script.replace('"$PWD/var"', f'"{server.data_dir}"')
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_AUTHOR_NAME": "Reader",
        "GIT_AUTHOR_EMAIL": "reader@example.com",
        "GIT_COMMITTER_NAME": "Reader",
        "GIT_COMMITTER_EMAIL": "reader@example.com",
        "HOMEPORT_ROUTER_BIND": server.env["HOMEPORT_ROUTER_BIND"],
    }
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert '"email":"admin@example.com"' in done.stdout.replace(" ", "")
    assert "<h1>Hello from Homeport</h1>" in done.stdout
    # The backup made by the cron run is the machine user's (the table may wrap cells).
    assert "ci (machine" in done.stdout
    assert "backup" in done.stdout and "0 5 * * *" in done.stdout
