"""End to end (issue "done when"): with plain HTTP against a real server, an admin
creates a project, branches a development environment and creates a machine user with
viewer + production:admin; the machine user may redeploy production but may not change
access, branch or deactivate development, or create a project, and its actions carry its
own name in the activity list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data").start()
    yield proc
    proc.stop()


def wait_complete(server: ServerProcess, token: str, pid: str, aid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, body = server.call("GET", f"/projects/{pid}/activities/{aid}", token)
        assert status == 200, body
        if body["state"] in ("complete", "cancelled"):
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"activity {aid} did not complete")


def test_machine_user_story(server: ServerProcess) -> None:
    password = (server.data_dir / "initial-admin-password").read_text().strip()
    status, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    admin = body["access_token"]

    status, body = server.call("POST", "/projects", admin, body={"title": "Shop"})
    assert status == 201, body
    pid = body["_embedded"]["entity"]["id"]

    status, body = server.call(
        "POST",
        f"/projects/{pid}/environments/main/branch",
        admin,
        body={"name": "dev", "title": "Dev", "type": "development"},
    )
    assert status == 201, body
    branch = wait_complete(server, admin, pid, body["_embedded"]["activities"][0]["id"])
    assert branch["result"] == "success"

    status, body = server.call(
        "POST",
        f"/projects/{pid}/machine-users",
        admin,
        body={
            "email": "deploy-bot@example.com",
            "name": "Deploy Bot",
            "role": "viewer",
            "permissions": ["production:admin"],
        },
    )
    assert status == 201, body
    bot_id = body["_embedded"]["entity"]["id"]
    status, body = server.call("POST", f"/users/{bot_id}/api-tokens", admin, body={"name": "CI"})
    assert status == 201
    bot = server.exchange(body["token"])

    status, body = server.call("POST", f"/projects/{pid}/environments/main/redeploy", bot)
    assert status == 200, body
    redeploy = wait_complete(server, bot, pid, body["_embedded"]["activities"][0]["id"])
    assert redeploy["result"] == "success"

    refusals = [
        (
            "POST",
            f"/projects/{pid}/user-access",
            [{"user_id": bot_id, "permissions": ["admin"]}],
            403,
        ),
        ("PATCH", f"/projects/{pid}/user-access/{bot_id}", {"permissions": ["admin"]}, 403),
        ("POST", f"/projects/{pid}/environments/dev/branch", {"name": "x"}, 404),
        ("POST", f"/projects/{pid}/environments/dev/deactivate", None, 404),
        ("POST", f"/projects/{pid}/environments/main/branch", {"name": "x"}, 403),
        ("POST", "/projects", {"title": "Mine"}, 403),
    ]
    for method, path, payload, expected in refusals:
        status, body = server.call(method, path, bot, body=payload)
        assert status == expected, (method, path, status, body)
        assert set(body) == {"status", "message", "code", "detail", "title"}

    status, listed = server.call("GET", f"/projects/{pid}/activities", admin)
    by_type = {a["type"]: a for a in listed}
    mine = by_type["environment.redeploy"]
    assert mine["payload"]["user"]["id"] == bot_id
    assert mine["payload"]["user"]["kind"] == "machine"
    assert mine["text"].startswith("Deploy Bot ")
    assert f'data-id="{bot_id}">Deploy Bot</user>' in mine["description"]
    assert by_type["environment_type.access.create"]["text"].startswith("Admin ")
