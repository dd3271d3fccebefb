"""End to end: two ``homeport serve`` nodes and two ``homeport worker`` processes on one
PostgreSQL database behave as one server.

The PostgreSQL server is started by the test itself (Debian's packages). The nodes
share one data dir, as nodes on one machine do (secrets, git); the database is what
they must agree through: the first admin made once, same-name writes that race across
nodes (one 201, the rest 409), activities claimed once with one at a time per
environment, a log stream on one node following an activity a worker runs elsewhere,
and sign-in rate limits that count attempts on every node.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from homeport.store.db import Database
from homeport.store.models import Account, Activity
from tests.e2e.server import BIN, ServerProcess
from tests.e2e.test_worker_crash import insert_slow_into
from tests.pg_cluster import Cluster
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(240)]


@dataclass
class Nodes:
    """The two API nodes, the workers, and a direct handle on the database."""

    a: ServerProcess
    b: ServerProcess
    target: Target
    db: Database
    workers: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    root = tmp_path_factory.mktemp("multi-node")
    cluster = Cluster().start()  # in /tmp: PostgreSQL's own user must reach it
    cluster.admin('CREATE DATABASE "homeport"')
    url = cluster.url("homeport")
    data_dir = root / "data"
    shared = {
        "HOMEPORT_DATABASE_URL": url,
        "HOMEPORT_WORKER": "0",
        "HOMEPORT_SCHEDULER": "0",
        "HOMEPORT_TEST_HANDLERS": "1",
    }
    a = ServerProcess(data_dir, {**shared, "HOMEPORT_SSH_BIND": "off"})
    b = ServerProcess(data_dir, {**shared, "HOMEPORT_SSH_BIND": "off"})
    workers: list[subprocess.Popen[bytes]] = []
    db = Database(url)
    try:
        # Both nodes start at once: one migrates and makes the first admin.
        starting = [threading.Thread(target=node.start) for node in (a, b)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        assert a.proc and b.proc and a.proc.poll() is None and b.proc.poll() is None
        for number in range(2):
            log = (root / f"worker-{number}.log").open("ab")
            workers.append(
                subprocess.Popen(
                    [str(BIN / "homeport"), "worker"],
                    env=a.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield Nodes(a, b, Target(a), db, workers)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
        for node in (a, b):
            if node.proc is not None:
                node.stop()
        db.dispose()
        cluster.stop()


def test_the_first_admin_is_made_once(nodes: Nodes) -> None:
    with nodes.db.session() as session:
        admins = session.query(Account).filter(Account.is_admin.is_(True)).all()
    assert [a.email for a in admins] == ["admin@example.com"]
    # A token minted on one node works on the other (one signing secret, one store).
    status, _ = nodes.b.call("GET", "/users/me", nodes.target.admin_token)
    assert status == 200


def _race(nodes: Nodes, token: str, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    start = threading.Barrier(len(bodies))

    def create(index: int) -> int:
        node = nodes.a if index % 2 else nodes.b
        start.wait()
        status, _ = node.call("POST", path, token, body=bodies[index])
        return status

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(create, range(len(bodies))))


def test_same_name_variables_across_nodes_one_201_the_rest_409(nodes: Nodes) -> None:
    owner = nodes.target.person("owner@example.com")
    pid = nodes.target.project(owner, "Race")
    for sensitive in (False, True):
        name = f"race_{int(sensitive)}"
        body = {"name": name, "value": "v", "is_sensitive": sensitive}
        statuses = _race(nodes, owner.token, f"/projects/{pid}/variables", [body] * 20)
        assert sorted(statuses) == [201] + [409] * 19, statuses
        status, listed = nodes.b.call("GET", f"/projects/{pid}/variables", owner.token)
        assert status == 200 and [v["name"] for v in listed].count(name) == 1


def test_two_workers_drain_100_activities_one_at_a_time_per_environment(nodes: Nodes) -> None:
    owner = nodes.target.person("drain@example.com")
    pid = nodes.target.project(owner, "Drain")
    envs = ["main", "dev-1", "dev-2", "dev-3"]
    for name in envs[1:]:
        status, body = nodes.a.call(
            "POST", f"/projects/{pid}/environments/main/branch", owner.token, body={"name": name}
        )
        assert status == 201, body
    _wait(lambda: _all_done(nodes.db, pid), 60, "the branches never finished")
    ids = [aid for env in envs for aid in insert_slow_into(nodes.db, pid, env, 1, 0.02, 25)]
    _wait(lambda: _all_done(nodes.db, pid), 120, "the activities were not drained")
    with nodes.db.session() as session:
        rows = session.query(Activity).filter(Activity.id.in_(ids)).all()
    assert len(rows) == 100
    assert all(r.state == "complete" and r.result == "success" for r in rows)
    assert len({r.claimed_by for r in rows}) == 2  # both workers took a share
    for env in envs:
        spans = sorted((r.started_at, r.completed_at) for r in rows if r.environments == [env])
        assert len(spans) == 25
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end is not None and start is not None and end <= start, env


def test_a_log_stream_on_one_node_follows_a_worker_anywhere(nodes: Nodes) -> None:
    owner = nodes.target.person("stream@example.com")
    pid = nodes.target.project(owner, "Stream")
    [aid] = insert_slow_into(nodes.db, pid, "main", 8, 0.25)
    request = urllib.request.Request(
        f"{nodes.b.url}/projects/{pid}/activities/{aid}/log",
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    seen: list[dict[str, Any]] = []
    finished_at_first_line = None
    with urllib.request.urlopen(request, timeout=60) as response:
        for raw in response:
            item = json.loads(raw)
            seen.append(item)
            if len(seen) == 1:
                finished_at_first_line = _state(nodes.db, aid)
            if item.get("seal"):
                break
    messages = [i["data"]["message"] for i in seen if "data" in i]
    assert [m for m in messages if m.startswith("step ")] == [
        f"step {n} of 8\n" for n in range(1, 9)
    ]
    assert seen[-1].get("seal") is True
    assert finished_at_first_line == "in_progress"  # the lines arrived live
    assert _state(nodes.db, aid) == "complete"


def test_revocation_on_one_node_is_refused_on_the_other(nodes: Nodes) -> None:
    who: Person = nodes.target.person("revoked@example.com")
    assert nodes.a.call("GET", "/users/me", who.token)[0] == 200
    assert nodes.b.call("GET", "/users/me", who.token)[0] == 200
    status, tokens = nodes.a.call("GET", "/users/me/api-tokens", who.token)
    assert status == 200
    for token in tokens:
        assert nodes.a.call("DELETE", f"/users/me/api-tokens/{token['id']}", who.token)[0] == 204
    assert nodes.b.call("GET", "/users/me", who.token)[0] == 401


def test_a_console_session_from_one_node_works_on_the_other(nodes: Nodes) -> None:
    password = "a console password"
    nodes.target.person("console@example.com", password=password)
    with httpx.Client(base_url=nodes.a.url) as on_a, httpx.Client(base_url=nodes.b.url) as on_b:
        form = on_a.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        signed_in = on_a.post(
            "/console/login",
            data={"login": "console@example.com", "password": password, "csrf_token": token[1]},
        )
        assert signed_in.status_code == 303, signed_in.text[:500]
        on_b.cookies.update(on_a.cookies)
        page = on_b.get("/console/projects")
        assert page.status_code == 200 and "console@example.com" in page.text


def _warm(nodes: Nodes, token: str) -> None:
    """Use ``token`` on both nodes, twice: each node now has it in its grant cache."""
    for node in (nodes.a, nodes.b, nodes.a, nodes.b):
        assert node.call("GET", "/users/me", token)[0] == 200


def test_a_cached_token_revoked_on_one_node_is_refused_on_the_other_at_once(
    nodes: Nodes,
) -> None:
    who: Person = nodes.target.person("cached-revoked@example.com")
    bystander: Person = nodes.target.person("bystander@example.com")
    _warm(nodes, who.token)
    _warm(nodes, bystander.token)
    # RFC 7009 revocation of the access token itself, on A.
    status, _ = nodes.a.call("POST", "/oauth2/revoke", form={"token": who.token})
    assert status == 200
    assert nodes.b.call("GET", "/users/me", who.token)[0] == 401
    assert nodes.a.call("GET", "/users/me", who.token)[0] == 401
    # Everyone else's tokens are checked again, and still work.
    assert nodes.b.call("GET", "/users/me", bystander.token)[0] == 200
    # A fresh token of the same API token works on both nodes.
    fresh = nodes.a.exchange(who.api_token)
    _warm(nodes, fresh)


def test_a_deactivated_account_is_refused_on_every_node_at_once(nodes: Nodes) -> None:
    who: Person = nodes.target.person("deactivated@example.com", machine=True)
    _warm(nodes, who.token)
    # Deactivated by the operator's command: a third process on the same database.
    done = nodes.a.homeport("user:deactivate", who.email)
    assert done.returncode == 0, done.stderr
    assert nodes.b.call("GET", "/users/me", who.token)[0] == 401
    assert nodes.a.call("GET", "/users/me", who.token)[0] == 401


def test_a_change_to_an_account_is_seen_by_every_node(nodes: Nodes) -> None:
    who: Person = nodes.target.person("promoted@example.com")
    _warm(nodes, who.token)
    assert nodes.b.call("GET", "/users/me", who.token)[1]["is_platform_admin"] is False
    with nodes.db.session(write=True) as session:
        account = session.get(Account, who.id)
        assert account is not None
        account.is_admin = True
    for node in (nodes.a, nodes.b):
        status, me = node.call("GET", "/users/me", who.token)
        assert status == 200 and me["is_platform_admin"] is True


# Last: its failures hold the loopback address's allowance for a minute.
def test_sign_in_limits_count_attempts_on_every_node(nodes: Nodes) -> None:
    nodes.target.person("guarded@example.com", password="the right password")
    form = {"grant_type": "password", "username": "guarded@example.com", "password": "wrong"}
    statuses = []
    for attempt in range(14):
        node = nodes.a if attempt % 2 else nodes.b
        status, _ = node.call("POST", "/oauth2/token", form=form)
        statuses.append(status)
    # The limit (10 failures per account by default) is reached across both nodes.
    assert 429 in statuses and statuses.index(429) <= 10, statuses
    status, _ = nodes.a.call(
        "POST", "/oauth2/token", form=form | {"password": "the right password"}
    )
    assert status == 429


def _state(db: Database, aid: str) -> str:
    with db.session() as session:
        row = session.query(Activity).filter(Activity.id == aid).one()
        return row.state


def _all_done(db: Database, pid: str) -> bool:
    with db.session() as session:
        return (
            session.query(Activity)
            .filter(Activity.project_id == pid, Activity.state.in_(("pending", "in_progress")))
            .count()
            == 0
        )


def _wait(check: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)
