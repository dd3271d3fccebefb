"""Findings 3 and 11: restores respect the role boundary and the environment's queue.

Before the fix, Dave (production viewer, development admin) restored a production
backup into a development environment, or a new branch, and read production data
there; and a restore requested while a deactivation was pending was accepted and left
data in an inactive environment.

The server runs without its in-process worker; the test starts ``homeport worker``
only while it wants activities to run, so "pending" is a state it controls.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import BIN, ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Story:
    """The project, its people and a production backup."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.owner = target.person("owner@example.com")
        self.dave = target.person("dave@example.com")
        self.pid = target.project(self.owner, "Shop")
        target.grant(self.pid, self.dave, ["viewer", "production:viewer", "development:admin"])
        with self.worker():
            self.run("POST", "environments/main/branch", {"name": "dev", "title": "dev"})
            self.run("POST", "environments/main/branch", {"name": "stage", "type": "staging"})
            self.prod_backup = self.run("POST", "environments/main/backup", {"safe": False})[
                "payload"
            ]["backup_name"]

    def call(self, method: str, path: str, body: Any = None, who: Person | None = None) -> Any:
        token = (who or self.owner).token
        return self.target.call(method, f"/projects/{self.pid}/{path}", token, body=body)

    def run(self, method: str, path: str, body: Any = None, who: Person | None = None) -> Any:
        """Call, then wait (bounded) for the activity to finish successfully."""
        status, answer = self.call(method, path, body, who)
        assert status in (200, 201), (status, answer)
        activity = answer["_embedded"]["activities"][0]
        return self.wait(activity["id"], "complete")

    def wait(self, aid: str, state: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, activity = self.call("GET", f"activities/{aid}")
            assert status == 200, activity
            if activity["state"] == state:
                return dict(activity)
            time.sleep(0.05)
        raise AssertionError(f"activity {aid} never became {state}")

    def worker(self) -> _Worker:
        return _Worker(self.target.server)

    def environments(self) -> list[str]:
        status, body = self.call("GET", "environments")
        assert status == 200, body
        return sorted(e["name"] for e in body)


class _Worker:
    """``with story.worker():`` runs a ``homeport worker`` process for the block."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Worker:
        self.proc = subprocess.Popen(
            [str(BIN / "homeport"), "worker"],
            env=self.server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    base: Path = tmp_path_factory.mktemp("restore")
    server = ServerProcess(base / "data", {"HOMEPORT_WORKER": "0"}).start()
    try:
        yield Story(Target(server))
    finally:
        server.stop()


def test_production_backup_cannot_be_restored_into_development(story: Story) -> None:
    backup = f"environments/main/backups/{story.prod_backup}"
    status, seen = story.call("GET", backup, who=story.dave)
    assert status == 200 and "#restore" not in seen["_links"]
    before = story.environments()
    for body in (
        {"environment_name": "dev"},
        {"environment_name": "dev2", "branch_from": "dev"},
        {"environment_name": "dev3", "branch_from": "main"},
        {},
    ):
        status, answer = story.call("POST", f"{backup}/restore", body, who=story.dave)
        assert status == 403, (body, answer)
        assert answer["code"] == 403 and answer["message"]
    assert story.environments() == before  # no branch was left behind
    status, listed = story.call("GET", "activities?type=environment.restore", who=story.dave)
    assert status == 200 and listed == []


def test_admin_on_both_types_is_needed(story: Story) -> None:
    """The owner (admin everywhere) may; staging admin without production backup may not."""
    carol = story.target.person("carol@example.com")
    story.target.grant(story.pid, carol, ["viewer", "staging:admin", "production:contributor"])
    backup = f"environments/main/backups/{story.prod_backup}/restore"
    status, _ = story.call("POST", backup, {"environment_name": "stage"}, who=carol)
    assert status == 403
    status, answer = story.call("POST", backup, {"environment_name": "stage"})
    assert status == 200, answer
    status, _ = story.call("POST", f"activities/{_last_restore(story)}/cancel")
    assert status == 200


def test_own_development_backups_still_restore(story: Story) -> None:
    with story.worker():
        made = story.run("POST", "environments/dev/backup", {"safe": False}, who=story.dave)
        name = made["payload"]["backup_name"]
        status, answer = story.call(
            "POST", f"environments/dev/backups/{name}/restore", {}, who=story.dave
        )
        assert status == 200, answer
        done = story.wait(answer["_embedded"]["activities"][0]["id"], "complete")
    assert done["result"] == "success"


def test_restore_while_deactivation_pending_is_refused(story: Story) -> None:
    with story.worker():
        story.run("POST", "environments/main/branch", {"name": "leaving", "title": "leaving"})
    status, answer = story.call("POST", "environments/leaving/deactivate")
    assert status == 200, answer
    deactivation = answer["_embedded"]["activities"][0]["id"]
    backup = f"environments/main/backups/{story.prod_backup}/restore"
    status, refused = story.call("POST", backup, {"environment_name": "leaving"})
    assert status == 409, refused
    assert "being deactivated" in refused["message"] and deactivation in refused["message"]
    with story.worker():
        story.wait(deactivation, "complete")
    status, refused = story.call("POST", backup, {"environment_name": "leaving"})
    assert status == 409  # inactive now: still nothing to restore into
    status, listed = story.call("GET", "activities?type=environment.restore")
    assert all("leaving" not in a["environments"] for a in listed)


def _last_restore(story: Story) -> str:
    status, listed = story.call("GET", "activities?type=environment.restore")
    assert status == 200 and listed
    return str(listed[0]["id"])
