"""The restore handler refuses a target that stopped being active while it waited."""

from __future__ import annotations

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
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
