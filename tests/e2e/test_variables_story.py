"""End to end (issue "done when"): an environment admin stores the machine user's token
as a sensitive, non-inheritable env:PLATFORMSH_CLI_TOKEN over plain HTTP; reading it back
shows no value; a viewer is refused; the runtime view gives it to main only."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from homeport.domain import variables
from homeport.domain.environments import get_environment
from homeport.domain.projects import get_project
from homeport.domain.secretbox import SecretBox, load_keys
from homeport.settings import Settings
from homeport.store.db import Database
from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_sensitive_token_variable(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        password = (server.data_dir / "initial-admin-password").read_text().strip()
        _, body = server.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "password", "username": "admin@example.com", "password": password},
        )
        admin = body["access_token"]
        _, body = server.call("POST", "/projects", admin, body={"title": "Shop"})
        pid = body["_embedded"]["entity"]["id"]
        _, body = server.call(
            "POST", f"/projects/{pid}/environments/main/branch", admin, body={"name": "child"}
        )
        branch_id = body["_embedded"]["activities"][0]["id"]
        for _ in range(100):
            _, act = server.call("GET", f"/projects/{pid}/activities/{branch_id}", admin)
            if act["state"] == "complete":
                break
            time.sleep(0.1)

        def member(email: str, perms: list[str]) -> str:
            _, body = server.call(
                "POST",
                f"/projects/{pid}/machine-users",
                admin,
                body={"email": email, "role": "viewer", "permissions": perms},
            )
            uid = body["_embedded"]["entity"]["id"]
            _, tok = server.call("POST", f"/users/{uid}/api-tokens", admin, body={"name": "t"})
            return server.exchange(tok["token"])

        env_admin = member("prod-admin@example.com", ["production:admin"])
        viewer = member("prod-viewer@example.com", ["production:viewer"])
        marker = "hp-secret-" + secrets.token_hex(12)
        url = f"/projects/{pid}/environments/main/variables"
        status, body = server.call(
            "POST",
            url,
            env_admin,
            body={
                "name": "env:PLATFORMSH_CLI_TOKEN",
                "value": marker,
                "is_sensitive": True,
                "is_inheritable": False,
            },
        )
        assert status == 201, body
        status, body = server.call("GET", f"{url}/env%3APLATFORMSH_CLI_TOKEN", env_admin)
        assert status == 200 and "value" not in body and body["is_sensitive"] is True
        status, body = server.call("POST", url, viewer, body={"name": "env:X", "value": "1"})
        assert status == 403
        status, body = server.call(
            "PATCH", f"{url}/env%3APLATFORMSH_CLI_TOKEN", viewer, body={"value": "stolen"}
        )
        assert status == 403
        status, listed = server.call("GET", url, viewer)
        assert status == 200 and all("value" not in v for v in listed if v["is_sensitive"])
    finally:
        server.stop()
    assert marker not in server.log()

    settings = Settings.from_env({"HOMEPORT_DATA_DIR": str(server.data_dir)})
    db = Database(settings.database_url)
    box = SecretBox(load_keys(settings.secret_keys, settings.secrets_dir))
    with db.session() as s:
        project = get_project(s, pid)
        main = variables.process_environment(
            s, box, project, get_environment(s, project, "main"), "runtime", "app"
        )
        child = variables.process_environment(
            s, box, project, get_environment(s, project, "child"), "runtime", "app"
        )
    db.dispose()
    assert main.variables["PLATFORMSH_CLI_TOKEN"] == marker
    assert "PLATFORMSH_CLI_TOKEN" not in child.variables
    for path in server.data_dir.glob("homeport.db*"):
        assert marker.encode() not in path.read_bytes()
