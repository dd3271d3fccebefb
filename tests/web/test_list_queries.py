"""Paged lists (issue 16): the same rows, in the same order, with the same rights as the
row-by-row code gave, in a number of SQL statements that grows with neither the page
size nor the data. Runs on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from homeport.domain import activities as acts
from homeport.domain import projects as projects_domain
from homeport.domain.environments import new_environment
from homeport.settings import Settings
from homeport.store.migrate import alembic_config
from homeport.store.models import Account, Activity, ActivityEnvironment, Environment
from tests.helpers import Api, statements

# --- helpers ----------------------------------------------------------------------------


def counted(api: Api, path: str, token: str, **kw: Any) -> tuple[Any, int]:
    """A GET's JSON and how many statements answering it took, once the token's grant
    check is cached (the first request of a token also checks its grant)."""
    api.get(path, token, **kw)
    with statements(api.state.db) as seen:
        response = api.get(path, token, **kw)
    assert response.status_code == 200, response.text
    return response.json(), len(seen)


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


TYPES = ("environment.cron", "environment.backup", "environment.redeploy")


def seed(api: Api, pid: str, start: int, n_envs: int, per_env: int) -> None:
    """Environments of each type with activities (some pending, some of two environments,
    some of an environment deleted since) and project-wide ones, interleaved in time."""
    kinds = ("development", "staging", "development")
    with api.state.db.session(write=True) as s:
        names = []
        for i in range(start, start + n_envs):
            name = f"e{i}"
            s.add(new_environment(pid, name, env_type=kinds[i % 3], parent="main"))
            names.append(name)
        s.flush()
        for round_ in range(per_env):
            for i, name in enumerate(names):
                envs = [name]
                if i % 4 == 1:
                    envs.append("main")  # a merge into production, listed under both
                if i % 5 == 2:
                    envs = [f"gone{i}"]  # an environment deleted since
                acts.record(
                    s,
                    project_id=pid,
                    type=TYPES[(round_ + i) % 3],
                    actor=None,
                    phrase=acts.Phrase().add(f"{name} {round_}"),
                    environments=envs,
                    pending=(round_ + i) % 3 == 0,
                    queue_key=f"{pid}:{name}",
                )
            acts.record(
                s,
                project_id=pid,
                type="project.modify.title",
                actor=None,
                phrase=acts.Phrase().add(f"project {round_}"),
            )


def viewer(api: Api, admin: str, pid: str, email: str, permissions: list[str]) -> str:
    user = api.create_account(email)
    grant = [{"user_id": user.id, "permissions": permissions}]
    assert api.post(f"/projects/{pid}/user-access", admin, json=grant).status_code == 204
    return api.access_token(api.api_token(user.id))


def reference(
    api: Api, pid: str, types: set[str] | None, env: str | None = None
) -> list[tuple[str, bool]]:
    """(id, #cancel shown) of every activity the caller sees, as the row-by-row code
    decided: newest first; visible when project-wide or of an existing environment of a
    viewable type (``types`` None: a project admin, who sees all); cancellable by admins
    of every environment concerned, by project admins when one is gone."""
    with api.state.db.session() as s:
        env_types = {e.name: e.type for e in s.scalars(select(Environment))}
        rows = s.scalars(
            select(Activity)
            .where(Activity.project_id == pid)
            .order_by(Activity.created_at.desc(), Activity.pk.desc())
        ).all()
        out = []
        for a in rows:
            if env is not None and env not in a.environments:
                continue
            if (
                types is not None
                and a.environments
                and env is None
                and not any(env_types.get(n) in types for n in a.environments)
            ):
                continue
            if types is None:
                rights = True
            else:  # viewers in these tests hold viewer or admin on their types
                rights = all(n in env_types for n in a.environments) and all(
                    env_types[n] in ADMIN_TYPES for n in a.environments
                )
                rights = rights and bool(a.environments)
            out.append((a.id, rights and acts.is_cancellable(a)))
        return out


ADMIN_TYPES = {"staging"}


def shown(items: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(a["id"], "#cancel" in a["_links"]) for a in items]


# --- activities ---------------------------------------------------------------------------


def test_activity_pages_match_the_row_by_row_answers(api: Api, admin: str, pid: str) -> None:
    seed(api, pid, 0, 9, 4)
    limited = viewer(api, admin, pid, "dev@example.com", ["viewer", "development:viewer"])
    mixed = viewer(
        api, admin, pid, "ops@example.com", ["viewer", "development:viewer", "staging:admin"]
    )
    for token, types in (
        (admin, None),
        (limited, {"development"}),
        (mixed, {"development", "staging"}),
    ):
        got = api.get(f"/projects/{pid}/activities", token, params={"count": 1000}).json()
        assert shown(got) == reference(api, pid, types), types
        for env, env_type in (("e1", "staging"), ("e3", "development"), ("main", "")):
            path = f"/projects/{pid}/environments/{env}/activities"
            response = api.get(path, token, params={"count": 1000})
            if types is not None and env_type not in types:
                assert response.status_code == 404  # not theirs to see
                continue
            assert shown(response.json()) == reference(api, pid, types, env), (types, env)
    # Filters keep their meaning: full type names (any case), wildcards, short names.
    for flt, wanted in (
        ("environment.backup", {"environment.backup"}),
        ("ENVIRONMENT.Backup", {"environment.backup"}),
        ("environment.*", set(TYPES)),
        ("cron", {"environment.cron"}),
    ):
        got = api.get(f"/projects/{pid}/activities", limited, params={"type": flt}).json()
        want = [i for i, _ in reference(api, pid, {"development"}) if _type_of(api, i) in wanted][
            :100
        ]
        assert [a["id"] for a in got] == want, flt


def _type_of(api: Api, activity_id: str) -> str:
    with api.state.db.session() as s:
        return str(s.scalar(select(Activity.type).where(Activity.id == activity_id)))


def test_activity_pages_cost_the_same_whatever_the_size(api: Api, admin: str, pid: str) -> None:
    limited = viewer(api, admin, pid, "dev@example.com", ["viewer", "development:viewer"])
    seed(api, pid, 0, 6, 3)
    cases = [
        (f"/projects/{pid}/activities", admin),
        (f"/projects/{pid}/activities", limited),
        (f"/projects/{pid}/environments/e3/activities", admin),
        (f"/projects/{pid}/environments/e3/activities", limited),
    ]
    small = [counted(api, path, token, params={"count": 2})[1] for path, token in cases]
    large = [counted(api, path, token, params={"count": 100})[1] for path, token in cases]
    seed(api, pid, 6, 30, 6)  # five times the environments, twice the activities each
    more = [counted(api, path, token, params={"count": 100})[1] for path, token in cases]
    assert small == large == more
    assert max(small) <= 10, small


# --- projects -----------------------------------------------------------------------------


def _people(api: Api) -> tuple[Account, str]:
    owner = api.create_account("owner@example.com")
    return owner, api.access_token(api.api_token(owner.id))


def _make_projects(api: Api, owner: Account, titles: list[str]) -> None:
    with api.state.db.session(write=True) as s:
        actor = s.get(Account, owner.id)
        assert actor is not None
        for title in titles:
            projects_domain.create_project(s, actor, projects_domain.NewProject(title=title))
            s.flush()


def _walk(api: Api, token: str, first: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    href: str | None = first
    while href:
        body = api.get(href, token).json()
        out.extend(body["items"])
        href = body["_links"].get("next", {}).get("href")
    return out


def test_project_pages_follow_their_links_in_order(api: Api, admin: str) -> None:
    owner, token = _people(api)
    titles = [f"{'ab'[n % 2].upper() if n % 3 else 'ab'[n % 2]}{n % 4} shop" for n in range(23)]
    _make_projects(api, owner, titles)
    with api.state.db.session() as s:
        account = s.get(Account, owner.id)
        assert account is not None
        mine = [p.id for p in projects_domain.projects_of(s, account)]
        by_id = {p.id: p.title for p in projects_domain.projects_of(s, account)}
    assert len(mine) == 23
    whole = api.get("/projects", token).json()
    assert whole["count"] == 23 and [p["id"] for p in whole["items"]] == mine
    assert "next" not in whole["_links"] and "previous" not in whole["_links"]
    assert [p["id"] for p in _walk(api, token, "/projects?page[size]=5")] == mine
    for sort, reverse in (("title", False), ("-title", True)):
        # As `project:list` sorts: stable, lower-cased, ties in creation order.
        expected = sorted(mine, key=lambda i: by_id[i].lower(), reverse=reverse)
        got = _walk(api, token, f"/projects?page[size]=4&sort={sort}")
        assert [p["id"] for p in got] == expected, sort
    assert [p["id"] for p in _walk(api, token, "/projects?page[size]=6&sort=-id")] == sorted(
        mine, reverse=True
    )
    # `previous` leads back to the page before.
    first = api.get("/projects?page[size]=5&sort=title", token).json()
    second = api.get(first["_links"]["next"]["href"], token).json()
    back = api.get(second["_links"]["previous"]["href"], token).json()
    assert [p["id"] for p in back["items"]] == [p["id"] for p in first["items"]]
    assert back["_links"]["next"]["href"] == first["_links"]["next"]["href"]
    # Others see only their projects; admins all; the links are the caller's.
    assert api.get("/projects", admin).json()["count"] == 23
    stranger = api.login_new("eve@example.com")
    assert api.get("/projects", stranger).json() == {
        "count": 0,
        "items": [],
        "_links": {"self": {"href": "/projects?page[size]=100"}},
    }
    # A member's count follows deletions (their access rows go with the project).
    assert api.delete(f"/projects/{mine[0]}", admin).status_code in (200, 202)
    after = api.get("/projects", token).json()
    assert after["count"] == 22 and [p["id"] for p in after["items"]] == mine[1:]
    for bad in ({"page[size]": "0"}, {"page[size]": "201"}, {"sort": "owner"}):
        assert api.get("/projects", token, params=bad).status_code == 400
    assert api.get("/projects", token, params={"page[after]": "nope"}).status_code == 400


def test_project_pages_cost_the_same_whatever_the_size(api: Api, admin: str) -> None:
    owner, token = _people(api)
    _make_projects(api, owner, [f"P{n}" for n in range(8)])
    small = counted(api, "/projects", token, params={"page[size]": 2})[1]
    page = counted(api, "/projects", token, params={"page[size]": 8})[1]
    _make_projects(api, owner, [f"Q{n}" for n in range(40)])
    body, more = counted(api, "/projects", token, params={"page[size]": 8, "sort": "title"})
    _, later = counted(api, body["_links"]["next"]["href"], token)
    assert small == page == more == later, (small, page, more, later)
    assert small <= 10
    # The legacy /me still lists every project.
    assert len(api.get("/me", token).json()["projects"]) == 48


# --- variables and environments ---------------------------------------------------------


def test_inherited_variables_cost_the_same_however_deep(api: Api, admin: str, pid: str) -> None:
    def chain(depth: int, prefix: str) -> str:
        with api.state.db.session(write=True) as s:
            parent = "main"
            for i in range(depth):
                s.add(new_environment(pid, f"{prefix}{i}", env_type="development", parent=parent))
                parent = f"{prefix}{i}"
        for i in range(depth):
            path = f"/projects/{pid}/environments/{prefix}{i}/variables"
            made = api.post(path, admin, json={"name": f"v{i}", "value": str(i)})
            assert made.status_code == 201, made.text
        return parent

    shallow = chain(2, "s")
    deep = chain(9, "d")
    base = f"/projects/{pid}/environments"
    _, n_shallow = counted(api, f"{base}/{shallow}/variables", admin)
    got_deep, n_deep = counted(api, f"{base}/{deep}/variables", admin)
    assert n_shallow == n_deep
    assert [(v["name"], v["inherited"]) for v in got_deep] == [(f"v{i}", i != 8) for i in range(9)]
    one, n_one = counted(api, f"{base}/{deep}/variables/v0", admin)
    assert one["inherited"] is True and one["value"] == "0"
    assert n_one == counted(api, f"{base}/{shallow}/variables/v0", admin)[1]


def test_one_environment_costs_the_same_however_many(api: Api, admin: str, pid: str) -> None:
    seed(api, pid, 0, 3, 1)
    before = counted(api, f"/projects/{pid}/environments/e1", admin)[1]
    seed(api, pid, 3, 30, 1)
    assert counted(api, f"/projects/{pid}/environments/e1", admin)[1] == before


# --- the migration's backfill ---------------------------------------------------------------


def test_migration_backfills_activity_environments(
    api: Api, admin: str, pid: str, settings: Settings
) -> None:
    seed(api, pid, 0, 4, 2)
    with api.state.db.session() as s:
        expected = sorted(
            (a.pk, name, a.project_id, a.created_at)
            for a in s.scalars(select(Activity))
            for name in a.environments
        )
    api.state.db.dispose()
    cfg = alembic_config(settings.database_url)
    command.downgrade(cfg, "0008_revocation_counter")
    command.upgrade(cfg, "head")
    with api.state.db.session() as s:
        rows = sorted(
            (r.activity_pk, r.environment, r.project_id, r.created_at)
            for r in s.scalars(select(ActivityEnvironment))
        )
    assert rows == expected and len(rows) > 8
