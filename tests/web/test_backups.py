"""Backups over the API: create, list, get, restore (same, other, branch_from), delete,
quota, corruption, and what a backup holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.store.models import Backup
from tests.helpers import Api, assert_error
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    pid = str(body["_embedded"]["entity"]["id"])
    api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "dev"})
    drain(api)
    return pid


def data_dir(api: Api, pid: str, env: str) -> Path:
    with api.state.db.session() as s:
        project = get_project(s, pid)
        return envs.data_dir(
            api.state.settings.environments_dir, envs.get_environment(s, project, env)
        )


def fill(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "uploads").mkdir(exist_ok=True)
    (root / "uploads" / "photo.bin").write_bytes(os.urandom(50_000))
    (root / "notes.txt").write_text("hello\n" * 100)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o750)
    (root / "empty").mkdir(exist_ok=True)
    (root / "link").symlink_to("notes.txt")


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    out: dict[str, tuple[str, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", 0, os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", path.stat().st_mode & 0o7777, b"")
        else:
            out[rel] = ("file", path.stat().st_mode & 0o7777, path.read_bytes())
    return out


def backup(api: Api, token: str, pid: str, env: str = "main", safe: bool = True) -> str:
    r = api.post(f"/projects/{pid}/environments/{env}/backup", token, json={"safe": safe})
    assert r.status_code == 200, r.text
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.backup"
    drain(api)
    done = api.get(f"/projects/{pid}/activities/{activity['id']}", token).json()
    assert done["result"] == "success", api.get(
        f"/projects/{pid}/activities/{activity['id']}/log", token
    ).text
    return str(activity["payload"]["backup_name"])


def restore(
    api: Api, token: str, pid: str, bid: str, env: str = "main", **body: object
) -> dict[str, object]:
    r = api.post(f"/projects/{pid}/environments/{env}/backups/{bid}/restore", token, json=body)
    assert r.status_code == 200, r.text
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.restore"
    drain(api)
    done: dict[str, object] = api.get(f"/projects/{pid}/activities/{activity['id']}", token).json()
    return done


def test_round_trip_same_environment(api: Api, admin: str, pid: str) -> None:
    root = data_dir(api, pid, "main")
    fill(root)
    before = snapshot(root)
    bid = backup(api, admin, pid)
    listed = api.get(f"/projects/{pid}/environments/main/backups", admin).json()
    assert [b["id"] for b in listed] == [bid]
    b = listed[0]
    assert (b["status"], b["restorable"], b["safe"], b["automated"]) == (
        "CREATED",
        True,
        True,
        False,
    )
    assert b["size_of_volumes"] > 50_000 and b["size_used"] > 0 and "#restore" in b["_links"]
    assert api.get(f"/projects/{pid}/environments/main/backups/{bid}", admin).json()["id"] == bid
    (root / "notes.txt").unlink()
    (root / "new-file").write_text("added after the backup")
    done = restore(api, admin, pid, bid)
    assert done["result"] == "success"
    assert snapshot(root) == before
    env = api.get(f"/projects/{pid}/environments/main", admin).json()
    assert env["last_backup_at"] is not None


def test_live_backup_and_log(api: Api, admin: str, pid: str) -> None:
    fill(data_dir(api, pid, "main"))
    r = api.post(f"/projects/{pid}/environments/main/backup", admin, json={"safe": False})
    aid = r.json()["_embedded"]["activities"][0]["id"]
    drain(api)
    log = api.get(f"/projects/{pid}/activities/{aid}/log", admin).text
    assert "Live backup" in log and "files" in log and "MiB" in log
    [b] = api.get(f"/projects/{pid}/environments/main/backups", admin).json()
    assert b["safe"] is False


def test_restore_into_another_environment_and_branch_from(api: Api, admin: str, pid: str) -> None:
    fill(data_dir(api, pid, "main"))
    before = snapshot(data_dir(api, pid, "main"))
    bid = backup(api, admin, pid)
    assert restore(api, admin, pid, bid, environment_name="dev")["result"] == "success"
    assert snapshot(data_dir(api, pid, "dev")) == before
    done = restore(api, admin, pid, bid, environment_name="fresh", branch_from="main")
    assert done["result"] == "success"
    fresh = api.get(f"/projects/{pid}/environments/fresh", admin).json()
    assert fresh["status"] == "active" and fresh["parent"] == "main"
    assert snapshot(data_dir(api, pid, "fresh")) == before
    assert_error(
        api.post(
            f"/projects/{pid}/environments/main/backups/{bid}/restore",
            admin,
            json={"environment_name": "nope"},
        ),
        400,
    )
    assert_error(
        api.post(
            f"/projects/{pid}/environments/main/backups/{bid}/restore",
            admin,
            json={"environment_name": "dev", "branch_from": "main"},
        ),
        409,
    )


def test_corrupted_archive_is_refused_and_changes_nothing(api: Api, admin: str, pid: str) -> None:
    root = data_dir(api, pid, "main")
    fill(root)
    bid = backup(api, admin, pid)
    (root / "after.txt").write_text("must survive")
    current = snapshot(root)
    with api.state.db.session() as s:
        key = s.query(Backup).filter(Backup.id == bid).one().blob_key
    path = Path(api.state.settings.backup_url.removeprefix("file://")) / key
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    done = restore(api, admin, pid, bid)
    assert done["result"] == "failure"
    log = api.get(f"/projects/{pid}/activities/{done['id']}/log", admin).text
    assert "nothing was changed" in log
    assert snapshot(root) == current


def test_delete_and_quota(api: Api, admin: str, pid: str) -> None:
    object.__setattr__(api.state.settings, "backup_quota", 2)
    fill(data_dir(api, pid, "main"))
    ids = [backup(api, admin, pid) for _ in range(3)]
    listed = [b["id"] for b in api.get(f"/projects/{pid}/environments/main/backups", admin).json()]
    assert listed == [ids[2], ids[1]]  # the oldest went beyond the quota
    r = api.delete(f"/projects/{pid}/environments/main/backups/{ids[1]}", admin)
    assert r.json()["_embedded"]["activities"][0]["type"] == "environment.backup.delete"
    assert [
        b["id"] for b in api.get(f"/projects/{pid}/environments/main/backups", admin).json()
    ] == [ids[2]]
    assert_error(api.get(f"/projects/{pid}/environments/main/backups/{ids[1]}", admin), 404)
    store = Path(api.state.settings.backup_url.removeprefix("file://"))
    assert len(list(store.rglob("*.tar.zst"))) == 1


def test_deleting_environment_deletes_its_backups(api: Api, admin: str, pid: str) -> None:
    fill(data_dir(api, pid, "dev"))
    backup(api, admin, pid, "dev")
    store = Path(api.state.settings.backup_url.removeprefix("file://"))
    assert len(list(store.rglob("*.tar.zst"))) == 1
    api.post(f"/projects/{pid}/environments/dev/deactivate", admin)
    drain(api)
    assert api.delete(f"/projects/{pid}/environments/dev", admin).status_code == 200
    assert list(store.rglob("*.tar.zst")) == []
    with api.state.db.session() as s:
        assert s.query(Backup).count() == 0


def test_inactive_environment_cannot_be_backed_up(api: Api, admin: str, pid: str) -> None:
    api.post(f"/projects/{pid}/environments/dev/deactivate", admin)
    drain(api)
    assert_error(api.post(f"/projects/{pid}/environments/dev/backup", admin, json={}), 409)


def test_backup_holds_commit_and_encrypted_variables(api: Api, admin: str, pid: str) -> None:
    from homeport.domain.backup_archive import verify_archive

    api.post(
        f"/projects/{pid}/environments/main/variables",
        admin,
        json={"name": "env:SECRET", "value": "very-secret-value", "is_sensitive": True},
    )
    fill(data_dir(api, pid, "main"))
    bid = backup(api, admin, pid)
    with api.state.db.session() as s:
        key = s.query(Backup).filter(Backup.id == bid).one().blob_key
    with api.state.blobs.open(key) as stream:
        info = verify_archive(stream)
    meta = info.metadata
    assert meta["backup_id"] == bid and "head_commit" in meta
    [var] = [v for v in meta["variables"] if v["name"] == "env:SECRET"]
    assert var["value"] is None and var["value_encrypted"]
    import zstandard

    raw = (Path(api.state.settings.backup_url.removeprefix("file://")) / key).read_bytes()
    assert b"very-secret-value" not in zstandard.ZstdDecompressor().decompressobj().decompress(raw)


def test_only_environment_type_admins_back_up_and_restore(api: Api, admin: str, pid: str) -> None:
    fill(data_dir(api, pid, "main"))
    bid = backup(api, admin, pid)

    def member(email: str, perms: list[str]) -> str:
        body = api.post(
            f"/projects/{pid}/machine-users", admin, json={"email": email, "permissions": perms}
        ).json()
        uid = body["_embedded"]["entity"]["id"]
        plain = api.post(f"/users/{uid}/api-tokens", admin, json={"name": "t"}).json()["token"]
        return api.access_token(plain)

    viewer = member("viewer-bot@example.com", ["production:viewer", "development:admin"])
    contributor = member("contrib-bot@example.com", ["production:contributor"])
    prod_admin = member("admin-bot@example.com", ["production:admin"])
    url = f"/projects/{pid}/environments/main"
    for token in (viewer, contributor):
        assert_error(api.post(f"{url}/backup", token, json={}), 403)
        assert_error(api.post(f"{url}/backups/{bid}/restore", token, json={}), 403)
        assert_error(api.delete(f"{url}/backups/{bid}", token), 403)
        seen = api.get(f"{url}/backups", token).json()
        assert [b["id"] for b in seen] == [bid] and "#restore" not in seen[0]["_links"]
        assert "#backup" not in api.get(url, token).json()["_links"]
    # Admin of development may not restore a production backup into dev (it would copy
    # production data where they may read it), nor into a new branch.
    for body in ({"environment_name": "dev"}, {"environment_name": "d2", "branch_from": "dev"}):
        assert_error(api.post(f"{url}/backups/{bid}/restore", viewer, json=body), 403)
    dev_bid = backup(api, viewer, pid, "dev")
    dev = f"/projects/{pid}/environments/dev"
    assert "#restore" in api.get(f"{dev}/backups/{dev_bid}", viewer).json()["_links"]
    assert restore(api, viewer, pid, dev_bid, "dev")["result"] == "success"
    # The production admin may restore production's backup into production.
    assert restore(api, prod_admin, pid, bid)["result"] == "success"
    assert api.post(f"{url}/backup", prod_admin, json={}).status_code == 200
    assert "#backup" in api.get(url, prod_admin).json()["_links"]
    # An environment the caller cannot see is treated as missing (no existence leak).
    assert_error(
        api.post(f"{url}/backups/{bid}/restore", prod_admin, json={"environment_name": "dev"}), 400
    )
