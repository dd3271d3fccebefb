"""Activity lists, filters, paging as the CLI pages, the log stream, cancellation."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest

from homeport.domain import activities as acts
from homeport.store.models import Activity
from tests.helpers import Api, assert_error
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


def make(
    api: Api,
    pid: str,
    n: int,
    type_: str = "environment.cron",
    env: str = "main",
    pending: bool = False,
) -> list[str]:
    ids = []
    with api.state.db.session(write=True) as s:
        for i in range(n):
            a = acts.record(
                s,
                project_id=pid,
                type=type_,
                actor=None,
                phrase=acts.Phrase().add(f"run {i}"),
                environments=[env],
                pending=pending,
                queue_key=f"{pid}:{env}",
            )
            ids.append(a.id)
    return ids


def test_fields_actor_and_markup(api: Api, admin: str, pid: str) -> None:
    bot = api.post(
        f"/projects/{pid}/machine-users",
        admin,
        json={"email": "ci@example.com", "name": "CI Bot", "permissions": ["production:admin"]},
    ).json()
    bot_id = bot["_embedded"]["entity"]["id"]
    token = api.access_token(
        api.post(f"/users/{bot_id}/api-tokens", admin, json={"name": "t"}).json()["token"]
    )
    api.post(f"/projects/{pid}/environments/main/redeploy", token)
    [a] = api.get(
        f"/projects/{pid}/activities", admin, params={"type": "environment.redeploy"}
    ).json()
    assert a["payload"]["user"] == a["payload"]["user"] | {
        "id": bot_id,
        "display_name": "CI Bot",
        "kind": "machine",
    }
    assert a["description"].startswith(f'<user data-id="{bot_id}">CI Bot</user> redeployed')
    assert a["text"] == "CI Bot redeployed environment main"
    for field in (
        "id",
        "created_at",
        "updated_at",
        "type",
        "parameters",
        "project",
        "environments",
        "state",
        "result",
        "started_at",
        "completed_at",
        "cancelled_at",
        "completion_percent",
        "timings",
        "log",
        "payload",
        "description",
        "text",
        "expires_at",
        "commands",
    ):
        assert field in a, field
    assert a["_links"]["log"]["href"] == f"/projects/{pid}/activities/{a['id']}/log"


def test_filters(api: Api, admin: str, pid: str) -> None:
    make(api, pid, 2, "environment.cron")
    make(api, pid, 1, "environment.backup")
    make(api, pid, 1, "environment.backup.delete")
    url = f"/projects/{pid}/activities"

    def types(**params: object) -> list[str]:
        r = api.get(url, admin, params=params)
        assert r.status_code == 200, r.text
        return [a["type"] for a in r.json()]

    assert types(type="cron") == ["environment.cron"] * 2
    assert types(type="backup") == ["environment.backup"]
    assert types(type="environment.backup%") == ["environment.backup.delete", "environment.backup"]
    assert types(type="*.backup*") == ["environment.backup.delete", "environment.backup"]
    assert sorted(types(type=["cron", "project.create"])) == sorted(
        ["environment.cron", "environment.cron", "project.create"]
    )
    assert types(state="pending") == []
    assert len(types(result="success")) == 5
    assert types(result="failure") == []
    assert len(types(count=2)) == 2
    assert_error(api.get(url, admin, params={"state": "bogus"}), 400)
    assert_error(api.get(url, admin, params={"count": 0}), 400)
    assert_error(api.get(url, admin, params={"starts_at": "yesterday"}), 400)


def test_paging_like_the_cli(api: Api, admin: str, pid: str) -> None:
    ids = make(api, pid, 25)
    # Several activities share one timestamp to test the inclusive bound (fewer than a
    # page: the CLI's algorithm cannot page through more identical timestamps than that).
    with api.state.db.session(write=True) as s:
        rows = s.query(Activity).filter(Activity.id.in_(ids[:4])).all()
        same = rows[0].created_at
        for row in rows:
            row.created_at = same
    seen: list[str] = []
    starts_at: str | None = None
    for _ in range(20):
        params: dict[str, object] = {"count": 5, "type": "cron"}
        if starts_at:
            # The PHP CLI sends '+00:00' unencoded, so it arrives as a space.
            params["starts_at"] = starts_at.replace("+00:00", " 00:00")
        page = api.get(f"/projects/{pid}/activities", admin, params=params).json()
        new = [a["id"] for a in page if a["id"] not in seen]
        if not new:
            break
        seen += new
        starts_at = page[-1]["created_at"]
    assert sorted(seen) == sorted(ids)
    stamps = [
        a["created_at"]
        for a in api.get(f"/projects/{pid}/activities", admin, params={"type": "cron"}).json()
    ]
    assert stamps == sorted(stamps, reverse=True)


def test_starts_at_forms() -> None:
    a = acts.parse_starts_at("2022-02-22T02:00:00.000000 00:00")
    b = acts.parse_starts_at("2022-02-22T02:00:00Z")
    c = acts.parse_starts_at(str(int(b.timestamp())))
    assert a == b == c
    assert acts.parse_starts_at("2022-02-22T04:00:00+02:00") == b
    assert acts.parse_starts_at("2022-02-22T02:00:00") == b + timedelta(0)


def test_environment_activity_list(api: Api, admin: str, pid: str) -> None:
    api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "dev"})
    drain(api)
    make(api, pid, 1, env="dev")
    dev = api.get(f"/projects/{pid}/environments/dev/activities", admin).json()
    assert [a["type"] for a in dev] == ["environment.cron", "environment.branch"]
    main = api.get(f"/projects/{pid}/environments/main/activities", admin).json()
    assert [a["type"] for a in main] == ["project.create"]
    one = api.get(f"/projects/{pid}/environments/dev/activities/{dev[0]['id']}", admin)
    assert one.status_code == 200
    assert_error(
        api.get(f"/projects/{pid}/environments/main/activities/{dev[0]['id']}", admin), 404
    )


def parse_stream(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_log_stream_format_and_seal(api: Api, admin: str, pid: str) -> None:
    r = api.post(f"/projects/{pid}/environments/main/redeploy", admin)
    aid = r.json()["_embedded"]["activities"][0]["id"]
    drain(api)
    log = api.get(f"/projects/{pid}/activities/{aid}/log", admin)
    assert log.headers["content-type"].startswith("application/x-json-stream")
    items = parse_stream(log.text)
    assert items[-1]["seal"] is True
    lines = items[:-1]
    assert [int(str(i["_id"])) for i in lines] == list(range(1, len(lines) + 1))
    for item in lines:
        data = item["data"]
        assert isinstance(data, dict) and data["message"].endswith("\n") and data["timestamp"]
    resumed = parse_stream(
        api.get(f"/projects/{pid}/activities/{aid}/log", admin, params={"start_at": 2}).text
    )
    assert resumed[0]["_id"] == "3"
    limited = parse_stream(
        api.get(f"/projects/{pid}/activities/{aid}/log", admin, params={"max_items": 1}).text
    )
    assert len(limited) == 1 and "seal" not in limited[0]


def test_log_streams_live_lines(api: Api, admin: str, pid: str) -> None:
    [aid] = make(api, pid, 1, type_="test.only.slow", pending=True)
    with api.state.db.session() as s:
        pk = acts.get_activity(s, pid, aid).pk

    def writer() -> None:
        for i in range(3):
            time.sleep(0.15)
            with api.state.db.session(write=True) as s:
                acts.append_log(s, pk, f"line {i}\n")
        with api.state.db.session(write=True) as s:
            row = s.get(Activity, pk)
            assert row is not None
            row.state, row.result = "complete", "success"

    thread = threading.Thread(target=writer)
    thread.start()
    received: list[tuple[float, dict[str, object]]] = []
    start = time.monotonic()
    with api.client.stream(
        "GET", f"/projects/{pid}/activities/{aid}/log", headers={"Authorization": f"Bearer {admin}"}
    ) as response:
        for line in response.iter_lines():
            if line.strip():
                received.append((time.monotonic() - start, json.loads(line)))
    thread.join()
    messages = [item["data"]["message"] for _, item in received if "data" in item]  # type: ignore[index]
    assert messages == ["line 0\n", "line 1\n", "line 2\n"]
    assert received[-1][1]["seal"] is True
    # Lines arrived as they were written, not all at the end.
    assert received[0][0] < received[2][0] - 0.1


def test_cancel_pending_and_refuse_finished(api: Api, admin: str, pid: str) -> None:
    r = api.post(f"/projects/{pid}/environments/main/redeploy", admin)
    activity = r.json()["_embedded"]["activities"][0]
    assert "#cancel" in activity["_links"]
    c = api.post(f"/projects/{pid}/activities/{activity['id']}/cancel", admin)
    assert c.status_code == 200
    assert c.json()["_embedded"]["activities"][0]["state"] == "cancelled"
    drain(api)  # the worker must not run it
    after = api.get(f"/projects/{pid}/activities/{activity['id']}", admin).json()
    assert after["state"] == "cancelled" and "#cancel" not in after["_links"]
    assert_error(api.post(f"/projects/{pid}/activities/{activity['id']}/cancel", admin), 409)


def test_viewers_cannot_cancel(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("v@example.com")
    api.post(
        f"/projects/{pid}/user-access",
        admin,
        json=[{"user_id": user.id, "permissions": ["viewer", "production:viewer"]}],
    )
    viewer = api.access_token(api.api_token(user.id))
    aid = api.post(f"/projects/{pid}/environments/main/redeploy", admin).json()["_embedded"][
        "activities"
    ][0]["id"]
    seen = api.get(f"/projects/{pid}/activities/{aid}", viewer).json()
    assert "#cancel" not in seen["_links"]
    assert_error(api.post(f"/projects/{pid}/activities/{aid}/cancel", viewer), 403)
    assert_error(api.get(f"/projects/{pid}/activities/nope", viewer), 404)


def test_huge_log_cursor_is_not_a_server_error(api: Api, admin: str, pid: str) -> None:
    aid = api.get(f"/projects/{pid}/activities", admin).json()[0]["id"]
    url = f"/projects/{pid}/activities/{aid}/log"
    assert_error(api.get(url, admin, params={"start_at": 2**80}), 400)
    r = api.get(url, admin, params={"start_at": 2**53})  # the largest cursor allowed
    assert r.status_code == 200 and parse_stream(r.text)[-1]["seal"] is True
