"""The full role matrix: every route of projects, environments, access and activities,
for every kind of actor; allowed calls pass, forbidden ones get 403 (or 404 where the
project or environment must stay invisible), and ``_links`` say exactly the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import Api
from tests.world import ACTORS, World, build_world

OK = "ok"
A, OTHER = "anonymous", "other_admin"
V, C, D = "dev_viewer", "dev_contributor", "dev_admin"
P, R, M = "project_admin", "platform_admin", "machine"


def expect(ok: set[str], forbidden: set[str], hidden: set[str] | None = None) -> dict[str, Any]:
    """Expected status per actor: anonymous 401; others 2xx, 403 or 404."""
    table: dict[str, Any] = {A: 401}
    for actor in ACTORS[1:]:
        if actor in ok:
            table[actor] = OK
        elif actor in forbidden:
            table[actor] = 403
        else:
            table[actor] = 404
    assert not (hidden or set()) & ok
    return table


MEMBERS = {V, C, D, P, R, M}
# Who may see which environment: production needs a production role, and so on.
SEE_PROD = {P, R, M}
SEE_DEV = {V, C, D, P, R}
SEE_STAGE = {P, R}

Call = Callable[[World], tuple[str, str, Any]]

CASES: dict[str, tuple[Call, dict[str, Any], tuple[str, str] | None]] = {
    # name: (call, expected per actor, (environment, link) that advertises it)
    "get project": (lambda w: ("GET", f"/projects/{w.pid}", None), expect(MEMBERS, set()), None),
    "list environments": (
        lambda w: ("GET", f"/projects/{w.pid}/environments", None),
        expect(MEMBERS, set()),
        None,
    ),
    "get main": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/main", None),
        expect(SEE_PROD, set()),
        None,
    ),
    "get dev": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/dev", None),
        expect(SEE_DEV, set()),
        None,
    ),
    "edit project title": (
        lambda w: ("PATCH", f"/projects/{w.pid}", {"title": "New"}),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "delete project": (
        lambda w: ("DELETE", f"/projects/{w.pid}", None),
        expect({R}, MEMBERS - {R}),
        None,
    ),
    "branch dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/branch", {"name": "feat"}),
        expect({C, D, P, R}, {V}),
        ("dev", "#branch"),
    ),
    "branch main": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/main/branch", {"name": "feat"}),
        expect({P, R}, {M}),
        ("main", "#branch"),
    ),
    "redeploy main": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/main/redeploy", None),
        expect({M, P, R}, set()),
        ("main", "#redeploy"),
    ),
    "redeploy dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/redeploy", None),
        expect({D, P, R}, {V, C}),
        ("dev", "#redeploy"),
    ),
    "deploy main": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/main/deploy", {}),
        expect({M, P, R}, set()),
        ("main", "#deploy"),
    ),
    "deploy dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/deploy", {}),
        expect({D, P, R}, {V, C}),
        ("dev", "#deploy"),
    ),
    "deployments of dev": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/dev/deployments", None),
        expect(SEE_DEV, set()),
        None,
    ),
    "routes of main": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/main/routes", None),
        expect(SEE_PROD, set()),
        None,
    ),
    "deactivate dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/deactivate", None),
        expect({D, P, R}, {V, C}),
        ("dev", "#deactivate"),
    ),
    "pause dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/pause", None),
        expect({D, P, R}, {V, C}),
        ("dev", "#pause"),
    ),
    "merge dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/merge", None),
        expect({P, R}, {V, C, D}),
        ("dev", "#merge"),
    ),
    "synchronize dev": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/environments/dev/synchronize",
            {"synchronize_code": True},
        ),
        expect({P, R}, {V, C, D}),
        ("dev", "#synchronize"),
    ),
    "activate old": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/old/activate", None),
        expect({D, P, R}, {V, C}),
        ("old", "#activate"),
    ),
    "delete old": (
        lambda w: ("DELETE", f"/projects/{w.pid}/environments/old", None),
        expect({D, P, R}, {V, C}),
        ("old", "#delete"),
    ),
    "edit dev": (
        lambda w: ("PATCH", f"/projects/{w.pid}/environments/dev", {"title": "Devel"}),
        expect({D, P, R}, {V, C}),
        ("dev", "#edit"),
    ),
    "edit main": (
        lambda w: ("PATCH", f"/projects/{w.pid}/environments/main", {"title": "Prod"}),
        expect({M, P, R}, set()),
        ("main", "#edit"),
    ),
    "retype dev to staging": (
        lambda w: ("PATCH", f"/projects/{w.pid}/environments/dev", {"type": "staging"}),
        expect({P, R}, {V, C, D}),
        None,
    ),
    "list user access": (
        lambda w: ("GET", f"/projects/{w.pid}/user-access", None),
        expect(MEMBERS, set()),
        None,
    ),
    "grant access": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/user-access",
            [{"user_id": w.ids[V], "permissions": ["viewer", "staging:viewer"]}],
        ),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "change machine user's access": (
        lambda w: (
            "PATCH",
            f"/projects/{w.pid}/user-access/{w.ids[M]}",
            {"permissions": ["admin"]},
        ),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "remove access": (
        lambda w: ("DELETE", f"/projects/{w.pid}/user-access/{w.ids[V]}", None),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "legacy access list": (
        lambda w: ("GET", f"/projects/{w.pid}/access", None),
        expect(MEMBERS, set()),
        None,
    ),
    "type access grant": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/environment-types/staging/access",
            {"user": w.ids[C], "role": "viewer"},
        ),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "invite": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/invitations",
            {
                "email": "new@example.com",
                "role": "viewer",
                "permissions": [{"type": "development", "role": "viewer"}],
            },
        ),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "list invitations": (
        lambda w: ("GET", f"/projects/{w.pid}/invitations", None),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "create machine user": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/machine-users",
            {"email": "bot2@example.com", "role": "viewer", "permissions": ["development:viewer"]},
        ),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "list project variables": (
        lambda w: ("GET", f"/projects/{w.pid}/variables", None),
        expect(MEMBERS, set()),
        None,
    ),
    "get project variable": (
        lambda w: ("GET", f"/projects/{w.pid}/variables/pv", None),
        expect(MEMBERS, set()),
        None,
    ),
    "create project variable": (
        lambda w: ("POST", f"/projects/{w.pid}/variables", {"name": "n", "value": "v"}),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "patch project variable": (
        lambda w: ("PATCH", f"/projects/{w.pid}/variables/pv", {"value": "2"}),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "delete project variable": (
        lambda w: ("DELETE", f"/projects/{w.pid}/variables/pv", None),
        expect({P, R}, MEMBERS - {P, R}),
        None,
    ),
    "list dev variables": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/dev/variables", None),
        expect(SEE_DEV, set()),
        None,
    ),
    "get main variable": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/main/variables/ev", None),
        expect(SEE_PROD, set()),
        None,
    ),
    "create dev variable": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/environments/dev/variables",
            {"name": "n", "value": "v"},
        ),
        expect({D, P, R}, {V, C}),
        ("dev", "#manage-variables"),
    ),
    "create main variable": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/environments/main/variables",
            {"name": "env:PLATFORMSH_CLI_TOKEN", "value": "v", "is_sensitive": True},
        ),
        expect({M, P, R}, set()),
        ("main", "#manage-variables"),
    ),
    "patch dev variable": (
        lambda w: ("PATCH", f"/projects/{w.pid}/environments/dev/variables/ev", {"value": "2"}),
        expect({D, P, R}, {V, C}),
        None,
    ),
    "delete main variable": (
        lambda w: ("DELETE", f"/projects/{w.pid}/environments/main/variables/ev", None),
        expect({M, P, R}, set()),
        None,
    ),
    "back up main": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/main/backup", {"safe": True}),
        expect({M, P, R}, set()),
        ("main", "#backup"),
    ),
    "back up dev": (
        lambda w: ("POST", f"/projects/{w.pid}/environments/dev/backup", {"safe": False}),
        expect({D, P, R}, {V, C}),
        ("dev", "#backup"),
    ),
    "list main backups": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/main/backups", None),
        expect(SEE_PROD, set()),
        None,
    ),
    "get dev activity": (
        lambda w: ("GET", f"/projects/{w.pid}/activities/{w.ids['dev_activity']}", None),
        expect(SEE_DEV, set()),
        None,
    ),
    "dev activity log": (
        lambda w: ("GET", f"/projects/{w.pid}/activities/{w.ids['dev_activity']}/log", None),
        expect(SEE_DEV, set()),
        None,
    ),
    "get dev activity through its environment": (
        lambda w: (
            "GET",
            f"/projects/{w.pid}/environments/dev/activities/{w.ids['dev_activity']}",
            None,
        ),
        expect(SEE_DEV, set()),
        None,
    ),
    "get project activity": (
        lambda w: ("GET", f"/projects/{w.pid}/activities/{w.ids['project_activity']}", None),
        expect(MEMBERS, set()),
        None,
    ),
    "cancel a finished activity": (
        lambda w: (
            "POST",
            f"/projects/{w.pid}/activities/{w.ids['dev_activity']}/cancel",
            None,
        ),
        # Admins of development get past the policy, then 409: it already finished.
        expect(set(), {V, C}) | {D: 409, P: 409, R: 409},
        None,
    ),
    "list activities": (
        lambda w: ("GET", f"/projects/{w.pid}/activities", None),
        expect(MEMBERS, set()),
        None,
    ),
    "list dev activities": (
        lambda w: ("GET", f"/projects/{w.pid}/environments/dev/activities", None),
        expect(SEE_DEV, set()),
        None,
    ),
}


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matrix(world: World, case: str) -> None:
    call, expected, _ = CASES[case]
    for actor in ACTORS:
        method, path, body = call(world)
        kwargs = {"json": body} if body is not None else {}
        response = world.api.request(method, path, world.token(actor), **kwargs)
        want = expected[actor]
        if want == OK:
            assert response.status_code < 300, (case, actor, response.text)
            # A successful change is undone by rebuilding the world for the next actor.
            if method != "GET":
                fresh = build_world_in_place(world)
                world.__dict__.update(fresh.__dict__)
        else:
            assert response.status_code == want, (case, actor, response.status_code, response.text)
            assert response.headers["content-type"] == "application/json"


def build_world_in_place(world: World) -> World:
    """A fresh project in the same database (mutations must not leak between actors)."""
    from homeport.domain import projects as p
    from homeport.store.models import Account, Project

    api = world.api
    with api.state.db.session(write=True) as s:
        for pid in (world.pid, world.other_pid):
            project = s.get(Project, pid)
            if project is not None:
                p.delete_project(s, project, api.state.settings.environments_dir)
        for account_id in world.ids.values():
            row = s.get(Account, account_id)
            if row is not None:
                s.delete(row)
        for row in s.query(Account).filter(Account.email.in_(["bot2@example.com"])).all():
            s.delete(row)
    return build_world(api)


@pytest.mark.parametrize("actor", ACTORS[1:])
def test_links_match_the_policy(world: World, actor: str) -> None:
    """Every ``#`` link is present exactly when its call would pass."""
    token = world.token(actor)
    for case, (_call, expected, advert) in sorted(CASES.items()):
        if advert is None:
            continue
        env, rel = advert
        response = world.api.get(f"/projects/{world.pid}/environments/{env}", token)
        if response.status_code == 404:
            assert expected[actor] == 404, (case, actor)
            continue
        links = response.json()["_links"]
        assert (rel in links) == (expected[actor] == OK), (case, actor, sorted(links))


def test_project_links_match(world: World) -> None:
    for actor in ACTORS[1:]:
        response = world.api.get(f"/projects/{world.pid}", world.token(actor))
        if actor == OTHER:
            assert response.status_code == 404
            continue
        links = response.json()["_links"]
        assert ("#edit" in links) == (actor in {P, R}), actor
        assert ("#delete" in links) == (actor == R), actor
        assert ("#access" in links) == (actor in {P, R}), actor
