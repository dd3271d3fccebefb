"""The backup and restore handlers: a restore into a target that stopped being active, and a
backup whose archive does not reach the store intact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.backup_archive import ArchiveInfo, write_archive
from homeport.domain.projects import get_project
from homeport.store.blobstore import LocalBlobStore
from homeport.store.models import Backup
from homeport.worker import backup_tasks
from tests.helpers import Api
from tests.world import drain


def test_restore_into_an_environment_deactivated_meanwhile_fails_clearly(
    api: Api, admin: str
) -> None:
    pid = api.post("/projects", admin, json={"title": "Shop"}).json()["_embedded"]["entity"]["id"]
    base = f"/projects/{pid}/environments"
    api.post(f"{base}/main/branch", admin, json={"name": "dev"})
    drain(api)
    made = api.post(f"{base}/dev/backup", admin, json={"safe": False}).json()
    drain(api)
    backup = made["_embedded"]["activities"][0]["payload"]["backup_name"]
    restore = api.post(f"{base}/dev/backups/{backup}/restore", admin, json={}).json()
    aid = restore["_embedded"]["activities"][0]["id"]
    # What the API now refuses (deactivating ahead of the restore) happens underneath.
    with api.state.db.session(write=True) as s:
        envs.get_environment(s, get_project(s, pid), "dev").status = "inactive"
    drain(api)
    with api.state.db.session() as s:
        row = acts.get_activity(s, pid, aid)
        log = "".join(line.message for line in acts.log_lines(s, row.pk))
        assert (row.state, row.result) == ("complete", "failure")
    assert "dev is no longer active; nothing was restored." in log
    assert "Errno" not in log and "Traceback" not in log


def _fill(root: Path) -> None:
    (root / "uploads").mkdir(parents=True, exist_ok=True)
    (root / "uploads" / "photo.bin").write_bytes(os.urandom(200_000))
    (root / "notes.txt").write_text("hello\n" * 100)


def test_a_backup_whose_archive_does_not_reach_the_store_intact_fails(
    api: Api, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup is not read back: the store's digest of what it received must be the
    digest of what was written, or no backup is recorded and nothing is left stored."""
    pid = api.post("/projects", admin, json={"title": "Shop"}).json()["_embedded"]["entity"]["id"]
    with api.state.db.session() as s:
        project = get_project(s, pid)
        data = envs.data_dir(
            api.state.settings.environments_dir, envs.get_environment(s, project, "main")
        )
    _fill(data)
    real_write = write_archive

    def write_then_damage(source: Path, dest: Any, *args: Any, **kwargs: Any) -> ArchiveInfo:
        info = real_write(source, dest, *args, **kwargs)
        with open(dest, "r+b") as f:  # the spool is damaged after its digest was taken
            f.seek(info.archive_bytes // 2)
            byte = f.read(1)
            f.seek(info.archive_bytes // 2)
            f.write(bytes([byte[0] ^ 0xFF]))
        return info

    real_put = LocalBlobStore.put

    def put_by_copying(self: LocalBlobStore, key: str, source: Path, **kwargs: Any) -> str:
        # As when the scratch directory and the store are on different filesystems.
        return real_put(self, key, source, move=False, sha256=kwargs.get("sha256"))

    monkeypatch.setattr(backup_tasks, "write_archive", write_then_damage)
    monkeypatch.setattr(LocalBlobStore, "put", put_by_copying)
    made = api.post(f"/projects/{pid}/environments/main/backup", admin, json={}).json()
    aid = made["_embedded"]["activities"][0]["id"]
    drain(api)
    with api.state.db.session() as s:
        row = acts.get_activity(s, pid, aid)
        log = "".join(line.message for line in acts.log_lines(s, row.pk))
        assert (row.state, row.result) == ("complete", "failure")
        assert s.query(Backup).count() == 0
    assert "The archive was not stored intact" in log
    store = Path(api.state.settings.backup_url.removeprefix("file://"))
    assert list(store.rglob("*.tar.zst")) == [] and list(store.rglob(".tmp-*")) == []
    assert list((api.state.settings.data_dir / "tmp").glob("backup-*")) == []

    # Undamaged, the same backup succeeds, and no read-back was needed to call it
    # restorable: restoring verifies it in full.
    monkeypatch.setattr(backup_tasks, "write_archive", real_write)
    read_back: list[str] = []
    real_open = LocalBlobStore.open

    def open_blob(self: LocalBlobStore, key: str) -> BinaryIO:
        read_back.append(key)
        return real_open(self, key)

    monkeypatch.setattr(LocalBlobStore, "open", open_blob)
    made = api.post(f"/projects/{pid}/environments/main/backup", admin, json={}).json()
    drain(api)
    assert read_back == []
    with api.state.db.session() as s:
        [recorded] = s.query(Backup).all()
        assert recorded.restorable
