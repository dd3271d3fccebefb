"""Git over HTTPS streams both ways (a 200 MB push and clone leave the server's memory
nearly flat) and refuses files over the size limit, with Homeport's reason."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess
from tests.git.test_http_story import Git
from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

LIMIT_MB = 60


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(
        tmp_path_factory.mktemp("git-limits") / "data",
        {"HOMEPORT_GIT_MAX_FILE_SIZE": str(LIMIT_MB * 1024 * 1024)},
    ).start()
    try:
        yield Target(server)
    finally:
        server.stop()


class PeakMemory:
    """Samples the server's resident size every 20 ms while the block runs."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.target.memory_kb()[0])

    def __enter__(self) -> PeakMemory:
        self.before = self.target.memory_kb()[0]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return max(0, self.peak - self.before) / 1024


def test_200_mb_push_and_clone_stream_through(target: Target, tmp_path: Path) -> None:
    owner = target.person("big@example.com")
    pid = target.project(owner, "Big")
    git = Git(target, owner, tmp_path / "owner")
    work = git.clone(pid, "work")
    for i in range(4):  # 4 x 50 MB of incompressible data, each file under the limit
        with (work / f"blob-{i}.bin").open("wb") as f:
            for _ in range(50):
                f.write(os.urandom(1024 * 1024))
    # Random data does not compress: skip zlib's effort, the bytes are what matter here.
    git.run("-c", "core.compression=0", "add", ".", cwd=work)
    git.run("commit", "-q", "-m", "200 MB", cwd=work)
    started = time.monotonic()
    with PeakMemory(target) as push:
        git.run("-c", "pack.compression=0", "push", "origin", "HEAD:main", cwd=work)
    with PeakMemory(target) as clone:
        copy = git.clone(pid, "copy")
    took = time.monotonic() - started
    assert (copy / "blob-3.bin").stat().st_size == 50 * 1024 * 1024
    print(
        f"200 MB push+clone in {took:.1f} s; server memory growth: push "
        f"{push.growth_mb:.1f} MB, clone {clone.growth_mb:.1f} MB"
    )
    assert push.growth_mb < 50 and clone.growth_mb < 50


def test_a_file_over_the_limit_rejects_the_ref(target: Target, tmp_path: Path) -> None:
    owner = target.person("huge@example.com")
    pid = target.project(owner, "Huge")
    git = Git(target, owner, tmp_path / "owner")
    work = git.clone(pid, "work")
    with (work / "video.mp4").open("wb") as f:
        for _ in range(LIMIT_MB + 1):
            f.write(os.urandom(1024 * 1024))
    git.run("add", ".", cwd=work)
    git.run("commit", "-q", "-m", "too big", cwd=work)
    refused = git.run("push", "origin", "HEAD:main", cwd=work, check=False)
    assert refused.returncode != 0
    assert f"[remote rejected] HEAD -> main (Homeport: video.mp4 is {LIMIT_MB + 1} MB" in (
        refused.stderr
    )
    assert f"files over {LIMIT_MB} MB cannot be pushed" in refused.stderr
    status, env = target.call("GET", f"/projects/{pid}/environments/main", owner.token)
    assert status == 200 and env["has_code"] is False
