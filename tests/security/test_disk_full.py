"""Finding 13: a full disk answers 507 (and OAuth's own shape at the token endpoint).

The data dir is a small tmpfs mounted by the test (CI runs as root), filled up with a
real file: a real ENOSPC, not a simulated one. Before the fix both the API and the
token endpoint answered a generic 500 in the wrong shape.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess
from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs, unmounted afterwards whatever happens."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"this test needs root to mount a tmpfs: {done.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path: Path) -> None:
    """Write until the file system says ENOSPC (bounded by its 48 MB)."""
    block = b"\0" * 65536
    with path.open("wb") as f:
        for _ in range(2000):
            try:
                f.write(block)
                f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return
    raise AssertionError("the disk never filled up")


def test_full_disk_answers_507_and_oauth_shape(small_disk: Path) -> None:
    server = ServerProcess(small_disk / "data").start()
    try:
        target = Target(server)
        owner = target.person("disk-owner@example.com")
        project = target.project(owner)
        path = f"/projects/{project}/variables"
        status, _ = target.call("POST", path, owner.token, body={"name": "kept", "value": "v"})
        assert status == 201

        filler = small_disk / "filler"
        _fill(filler)

        seen_api: set[int] = set()
        seen_oauth: set[int] = set()
        big = "x" * 60_000
        for i in range(400):
            status, body = target.call(
                "POST", path, owner.token, body={"name": f"big{i}", "value": big}
            )
            assert status in (201, 507), (status, body)
            if status == 507:
                assert body["code"] == 507 and "disk space" in body["message"]
            seen_api.add(status)
            status, body = server.call(
                "POST",
                "/oauth2/token",
                form={"grant_type": "api_token", "api_token": owner.api_token},
                headers={"Authorization": "Basic cGxhdGZvcm0tY2xpOg=="},
            )
            assert status in (200, 503), (status, body)
            if status == 503:
                assert body["error"] == "temporarily_unavailable"
            seen_oauth.add(status)
            if 507 in seen_api and 503 in seen_oauth:
                break
        assert 507 in seen_api and 503 in seen_oauth, (seen_api, seen_oauth)
        after = server.log().split("out of disk space", 1)[-1]
        assert "Traceback" not in after, after[-4000:]

        os.unlink(filler)
        status, _ = target.call("POST", path, owner.token, body={"name": "after", "value": "v"})
        assert status == 201
        status, listed = target.call("GET", path, owner.token)
        assert status == 200
        names = {v["name"] for v in listed}
        assert {"kept", "after"} <= names
    finally:
        server.stop()
