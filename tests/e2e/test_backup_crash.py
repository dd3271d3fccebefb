"""Crash safety with real processes: a worker killed during a backup leaves no
restorable partial backup (and the activity fails after restart); a worker killed during
a restore leaves the target's data byte-for-byte unchanged."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.settings import Settings
from homeport.store.db import Database
from tests.e2e.server import BIN, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Cluster:
    """An API-only server plus separately started worker processes."""

    def __init__(self, tmp: Path) -> None:
        self.server = ServerProcess(tmp / "data", {"HOMEPORT_WORKER": "0"}).start()
        self.workers: list[subprocess.Popen[bytes]] = []
        password = (self.server.data_dir / "initial-admin-password").read_text().strip()
        _, body = self.server.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "password", "username": "admin@example.com", "password": password},
        )
        self.token: str = body["access_token"]

    def start_worker(self, slow: float = 0.0) -> subprocess.Popen[bytes]:
        env = dict(self.server.env)
        if slow:
            env["HOMEPORT_TEST_SLOW_PROGRESS"] = str(slow)
        log = (self.server.data_dir.parent / "worker.log").open("ab")
        proc = subprocess.Popen(
            [str(BIN / "homeport"), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.workers.append(proc)
        return proc

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.server.call(method, path, self.token, body=body)
        assert status < 300, (status, payload)
        return payload

    def activity(self, pid: str, aid: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/projects/{pid}/activities/{aid}"))

    def log(self, pid: str, aid: str) -> str:
        """The log so far, read from the store (the API's stream waits for the end)."""
        settings = Settings.from_env({"HOMEPORT_DATA_DIR": str(self.server.data_dir)})
        db = Database(settings.database_url)
        try:
            with db.session() as s:
                row = acts.get_activity(s, pid, aid)
                return "".join(line.message for line in acts.log_lines(s, row.pk))
        finally:
            db.dispose()

    def wait(self, pid: str, aid: str, until: str, timeout: float = 30) -> dict[str, Any]:
        """Until the state is ``until``, or (a verb) until the log has three such lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            act = self.activity(pid, aid)
            if until in ("Archived", "Verified", "Restored"):
                if self.log(pid, aid).count(f"{until} ") >= 3:
                    return act
            elif act["state"] == until:
                return act
            time.sleep(0.05)
        raise AssertionError(f"activity {aid} never reached {until}: {self.log(pid, aid)}")

    def data_dir(self, pid: str, env: str) -> Path:
        settings = Settings.from_env({"HOMEPORT_DATA_DIR": str(self.server.data_dir)})
        db = Database(settings.database_url)
        try:
            with db.session() as s:
                project = get_project(s, pid)
                return envs.data_dir(
                    settings.environments_dir, envs.get_environment(s, project, env)
                )
        finally:
            db.dispose()

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.server.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.close()


def fill(root: Path, files: int = 150) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"file-{i:03}.bin").write_bytes(os.urandom(2048))


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_killed_backup_leaves_nothing_restorable(cluster: Cluster) -> None:
    pid = cluster.call("POST", "/projects", {"title": "Shop"})["_embedded"]["entity"]["id"]
    fill(cluster.data_dir(pid, "main"))
    worker = cluster.start_worker(slow=0.05)
    body = cluster.call("POST", f"/projects/{pid}/environments/main/backup", {"safe": True})
    aid = body["_embedded"]["activities"][0]["id"]
    # Killed after the archive was stored and checked, before the backup is recorded:
    # the worst moment.
    deadline = time.monotonic() + 30
    while "Stored and checked" not in cluster.log(pid, aid):
        assert time.monotonic() < deadline, cluster.log(pid, aid)
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert cluster.activity(pid, aid)["state"] == "in_progress"
    assert cluster.call("GET", f"/projects/{pid}/environments/main/backups") == []

    cluster.start_worker()
    done = cluster.wait(pid, aid, "complete")
    assert done["result"] == "failure"
    assert cluster.call("GET", f"/projects/{pid}/environments/main/backups") == []
    data = cluster.server.data_dir
    assert list((data / "backups").rglob("*.tar.zst")) == []
    assert not list((data / "tmp").glob("backup-*"))
    # The environment still works: the next backup succeeds.
    body = cluster.call("POST", f"/projects/{pid}/environments/main/backup", {"safe": True})
    ok = cluster.wait(pid, body["_embedded"]["activities"][0]["id"], "complete")
    assert ok["result"] == "success"
    assert len(cluster.call("GET", f"/projects/{pid}/environments/main/backups")) == 1


def test_killed_restore_leaves_target_unchanged(cluster: Cluster) -> None:
    pid = cluster.call("POST", "/projects", {"title": "Shop"})["_embedded"]["entity"]["id"]
    root = cluster.data_dir(pid, "main")
    fill(root)
    normal = cluster.start_worker()
    body = cluster.call("POST", f"/projects/{pid}/environments/main/backup", {"safe": True})
    assert (
        cluster.wait(pid, body["_embedded"]["activities"][0]["id"], "complete")["result"]
        == "success"
    )
    [backup] = cluster.call("GET", f"/projects/{pid}/environments/main/backups")
    normal.send_signal(signal.SIGTERM)
    normal.wait(timeout=20)

    (root / "file-000.bin").write_bytes(b"changed after the backup")
    (root / "extra.txt").write_text("new")
    before = digest(root)

    slow = cluster.start_worker(slow=0.05)
    body = cluster.call(
        "POST", f"/projects/{pid}/environments/main/backups/{backup['id']}/restore", {}
    )
    aid = body["_embedded"]["activities"][0]["id"]
    cluster.wait(pid, aid, "Restored")  # extraction is under way
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    assert digest(root) == before

    cluster.start_worker()
    assert cluster.wait(pid, aid, "complete")["result"] == "failure"
    assert digest(root) == before
    assert not [p for p in root.parent.iterdir() if ".restore-" in p.name or ".old-" in p.name]
