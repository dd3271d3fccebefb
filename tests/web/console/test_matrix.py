"""Who may and who may not, for every console route: allowed actors get the page (or
the redirect after a successful form), visible-but-forbidden gets 403, invisible gets
404, and anonymous visitors are sent to sign in (GET) or refused (POST, no CSRF token).

GET cases share one world; each POST case runs its refusals on one world and every
allowed actor on a fresh copy, so one success cannot change what the next actor meets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.web.console.conftest import ConsoleWorld

A, OTHER, OWNER = "anonymous", "other_admin", "owner"
V, C, D = "dev_viewer", "dev_contributor", "dev_admin"
P, R, M = "project_admin", "platform_admin", "machine"
SIGNED_IN = {OTHER, OWNER, V, C, D, P, R, M}
MEMBERS = {OWNER, V, C, D, P, R, M}
ADMINS = {OWNER, P, R}
SEE_PROD = ADMINS | {M}
SEE_DEV = ADMINS | {V, C, D}
SEE_STAGE = ADMINS
DEV_ADMINS = ADMINS | {D}
NONCE = re.compile(r'name="form_nonce" value="([^"]+)"')
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv2f6Fk1j0Xw4wJjz8ZkQYQ3aQ9zVnqS1HhC1XH6a0E me"

Path = Callable[[ConsoleWorld], str]


@dataclass(frozen=True)
class Case:
    """A route, who may use it, and who may see (but not use) what it acts on."""

    method: str
    path: Path
    ok: frozenset[str]
    forbidden: frozenset[str] = frozenset()
    data: dict[str, str] = field(default_factory=dict)
    # For POSTs that need a fresh one-time form (token creation).
    nonce_form: Path | None = None
    # A POST that succeeds again after another actor's success: allowed actors may then
    # share one world (a fresh copy per actor costs ~0.1 s).
    repeatable: bool = False

    def expected(self, actor: str) -> int | str:
        if actor == A:
            return 303 if self.method == "GET" else 403
        if actor in self.ok:
            return "ok"
        return 403 if actor in self.forbidden else 404


def case(
    method: str,
    path: Path,
    ok: set[str],
    forbidden: set[str] | None = None,
    data: dict[str, str] | None = None,
    nonce_form: Path | None = None,
    repeatable: bool = False,
) -> Case:
    return Case(
        method,
        path,
        frozenset(ok),
        frozenset(forbidden or set()),
        data or {},
        nonce_form,
        repeatable,
    )


def P_(rest: str) -> Path:
    return lambda w: f"/console/projects/{w.pid}{rest}"


def env(name: str, rest: str = "") -> Path:
    return P_(f"/environments/{name}{rest}")


def backup(name: str, rest: str) -> Path:
    return lambda w: (
        f"/console/projects/{w.pid}/environments/{name}/backups/{w.backup_ids[name]}{rest}"
    )


def activity(key: str, rest: str = "") -> Path:
    return lambda w: f"/console/projects/{w.pid}/activities/{w.activity_ids[key]}{rest}"


def user(actor: str, rest: str) -> Path:
    return lambda w: f"/console/users/{w.id(actor)}{rest}"


def member(actor: str, rest: str) -> Path:
    return lambda w: f"/console/projects/{w.pid}/settings/users/{w.id(actor)}{rest}"


def fixed(path: str) -> Path:
    return lambda w: path


NOT_DEV_ADMINS = {V, C}  # see development environments, may not administer them
NOT_ADMINS_MEMBERS = MEMBERS - ADMINS
ROLES = {"role": "viewer", "production": "none", "staging": "none", "development": "viewer"}

CASES: dict[str, Case] = {
    # --- pages anyone signed in may open
    "home": case("GET", fixed("/console/projects"), SIGNED_IN),
    "user page": case("GET", fixed("/console/users/me"), SIGNED_IN),
    "account settings": case("GET", fixed("/console/users/me/settings"), SIGNED_IN),
    "api tokens": case("GET", fixed("/console/users/me/settings/api-tokens"), SIGNED_IN),
    "new api token": case("GET", fixed("/console/users/me/settings/api-tokens/new"), SIGNED_IN),
    "ssh keys": case("GET", fixed("/console/users/me/settings/ssh-keys"), SIGNED_IN),
    # --- another account's pages: itself and platform admins
    "machine profile": case("GET", user(M, ""), {M, R}),
    "machine tokens": case("GET", user(M, "/settings/api-tokens"), {M, R}),
    "machine ssh keys": case("GET", user(M, "/settings/ssh-keys"), {M, R}),
    "cancel invitation": case(
        "POST",
        lambda w: (
            f"/console/projects/{w.pid}/settings/invitations/{w.world.ids['invitation']}/cancel"
        ),
        ADMINS,
        NOT_ADMINS_MEMBERS,
    ),
    "delete machine token?": case(
        "GET",
        lambda w: (
            f"/console/users/{w.id(M)}/settings/api-tokens/{w.world.ids['machine_token']}/delete"
        ),
        {M, R},
    ),
    "delete machine token": case(
        "POST",
        lambda w: (
            f"/console/users/{w.id(M)}/settings/api-tokens/{w.world.ids['machine_token']}/delete"
        ),
        {M, R},
    ),
    "delete machine ssh key?": case(
        "GET",
        lambda w: f"/console/users/{w.id(M)}/settings/ssh-keys/{w.world.ids['machine_key']}/delete",
        {M, R},
    ),
    "delete machine ssh key": case(
        "POST",
        lambda w: f"/console/users/{w.id(M)}/settings/ssh-keys/{w.world.ids['machine_key']}/delete",
        {M, R},
    ),
    # --- project pages
    "project": case("GET", P_(""), MEMBERS),
    "project variables": case("GET", P_("/variables"), MEMBERS),
    "new project variable": case("GET", P_("/variables/new"), ADMINS, NOT_ADMINS_MEMBERS),
    "edit project variable": case("GET", P_("/variables/pv/edit"), ADMINS, NOT_ADMINS_MEMBERS),
    "delete project variable?": case("GET", P_("/variables/pv/delete"), ADMINS, NOT_ADMINS_MEMBERS),
    "settings": case("GET", P_("/settings"), MEMBERS),
    "users": case("GET", P_("/settings/users"), MEMBERS),
    "edit roles": case("GET", member(V, "/edit"), ADMINS, NOT_ADMINS_MEMBERS),
    "remove member?": case("GET", member(V, "/remove"), ADMINS, NOT_ADMINS_MEMBERS),
    "edit owner roles": case("GET", member(OWNER, "/edit"), set(), MEMBERS),
    "production activity": case("GET", activity("main"), SEE_PROD),
    "development activity": case("GET", activity("dev"), SEE_DEV),
    "development activity log": case("GET", activity("dev", "/log"), SEE_DEV),
    # --- environments, by type
    "main": case("GET", env("main"), SEE_PROD),
    "dev": case("GET", env("dev"), SEE_DEV),
    "stage": case("GET", env("stage"), SEE_STAGE),
    "dev backups": case("GET", env("dev", "/backups"), SEE_DEV),
    "main backups": case("GET", env("main", "/backups"), SEE_PROD),
    "dev variables": case("GET", env("dev", "/variables"), SEE_DEV),
    "new dev variable": case("GET", env("dev", "/variables/new"), DEV_ADMINS, NOT_DEV_ADMINS),
    "edit dev variable": case("GET", env("dev", "/variables/ev/edit"), DEV_ADMINS, NOT_DEV_ADMINS),
    "run dev cron": case(
        "POST", env("dev", "/crons/nightly/run"), DEV_ADMINS, NOT_DEV_ADMINS, repeatable=True
    ),
    "delete dev variable?": case(
        "GET", env("dev", "/variables/ev/delete"), DEV_ADMINS, NOT_DEV_ADMINS
    ),
    "deactivate dev?": case("GET", env("dev", "/deactivate"), DEV_ADMINS, NOT_DEV_ADMINS),
    "restore dev backup?": case("GET", backup("dev", "/restore"), DEV_ADMINS, NOT_DEV_ADMINS),
    "delete dev backup?": case("GET", backup("dev", "/delete"), DEV_ADMINS, NOT_DEV_ADMINS),
    "restore main backup?": case("GET", backup("main", "/restore"), {OWNER, P, R, M}),
    # --- platform admins
    "accounts": case("GET", fixed("/console/accounts"), {R}, SIGNED_IN - {R}),
    "deactivate account?": case(
        "GET", lambda w: f"/console/accounts/{w.id(V)}/deactivate", {R}, SIGNED_IN - {R}
    ),
    # --- forms
    "create project": case(
        "POST", fixed("/console/projects"), {R}, SIGNED_IN - {R}, {"title": "New"}
    ),
    "redeploy dev": case(
        "POST", env("dev", "/redeploy"), DEV_ADMINS, NOT_DEV_ADMINS, repeatable=True
    ),
    "redeploy main": case("POST", env("main", "/redeploy"), SEE_PROD, repeatable=True),
    "branch dev": case("POST", env("dev", "/branch"), DEV_ADMINS | {C}, {V}, {"name": "feature"}),
    "activate old": case("POST", env("old", "/activate"), DEV_ADMINS, NOT_DEV_ADMINS),
    "deactivate dev": case("POST", env("dev", "/deactivate"), DEV_ADMINS, NOT_DEV_ADMINS),
    "back up main": case(
        "POST", env("main", "/backup"), SEE_PROD, set(), {"kind": "live"}, repeatable=True
    ),
    "back up dev": case("POST", env("dev", "/backup"), DEV_ADMINS, NOT_DEV_ADMINS, repeatable=True),
    "restore dev backup": case(
        "POST",
        backup("dev", "/restore"),
        DEV_ADMINS,
        NOT_DEV_ADMINS,
        {"restore_code": "on"},
        repeatable=True,
    ),
    "delete dev backup": case("POST", backup("dev", "/delete"), DEV_ADMINS, NOT_DEV_ADMINS),
    "cancel pending dev activity": case(
        "POST", activity("pending", "/cancel"), DEV_ADMINS, NOT_DEV_ADMINS
    ),
    "create project variable": case(
        "POST", P_("/variables"), ADMINS, NOT_ADMINS_MEMBERS, {"name": "NEW", "value": "1"}
    ),
    "edit project variable!": case(
        "POST",
        P_("/variables/pv/edit"),
        ADMINS,
        NOT_ADMINS_MEMBERS,
        {"value": "2"},
        repeatable=True,
    ),
    "delete project variable": case("POST", P_("/variables/pv/delete"), ADMINS, NOT_ADMINS_MEMBERS),
    "create dev variable": case(
        "POST", env("dev", "/variables"), DEV_ADMINS, NOT_DEV_ADMINS, {"name": "N", "value": "1"}
    ),
    "edit dev variable!": case(
        "POST",
        env("dev", "/variables/ev/edit"),
        DEV_ADMINS,
        NOT_DEV_ADMINS,
        {"value": "2"},
        repeatable=True,
    ),
    "delete dev variable": case(
        "POST", env("dev", "/variables/ev/delete"), DEV_ADMINS, NOT_DEV_ADMINS
    ),
    "invite": case(
        "POST",
        P_("/settings/users/invite"),
        ADMINS,
        NOT_ADMINS_MEMBERS,
        {"email": "new@example.com", **ROLES},
    ),
    "create machine user": case(
        "POST",
        P_("/settings/users/machine-users"),
        ADMINS,
        NOT_ADMINS_MEMBERS,
        {"email": "bot@example.com", **ROLES},
    ),
    "change roles": case(
        "POST",
        member(V, "/edit"),
        ADMINS,
        NOT_ADMINS_MEMBERS,
        {**ROLES, "staging": "viewer"},
        repeatable=True,
    ),
    "remove member": case("POST", member(V, "/remove"), ADMINS, NOT_ADMINS_MEMBERS),
    "change owner roles": case("POST", member(OWNER, "/edit"), set(), MEMBERS, ROLES),
    "remove owner": case("POST", member(OWNER, "/remove"), set(), MEMBERS),
    "create account": case(
        "POST", fixed("/console/accounts"), {R}, SIGNED_IN - {R}, {"email": "x@example.com"}
    ),
    "deactivate account": case(
        "POST", lambda w: f"/console/accounts/{w.id(V)}/deactivate", {R}, SIGNED_IN - {R}
    ),
    "create own api token": case(
        "POST",
        fixed("/console/users/me/settings/api-tokens"),
        SIGNED_IN,
        data={"name": "t"},
        nonce_form=fixed("/console/users/me/settings/api-tokens/new"),
        repeatable=True,
    ),
    "create machine api token": case(
        "POST",
        user(M, "/settings/api-tokens"),
        {M, R},
        data={"name": "t"},
        nonce_form=user(M, "/settings/api-tokens/new"),
        repeatable=True,
    ),
    "add own ssh key": case(
        "POST",
        fixed("/console/users/me/settings/ssh-keys"),
        SIGNED_IN,
        data={"value": SSH_KEY},
    ),
    "log out": case("POST", fixed("/console/logout"), SIGNED_IN, repeatable=True),
}
ACTORS = (A, OTHER, OWNER, V, C, D, P, R, M)


def outcome(cw: ConsoleWorld, c: Case, actor: str) -> int | str:
    browser = cw.browser(None if actor == A else actor)
    path = c.path(cw)
    if c.method == "GET":
        response = browser.get(path)
    else:
        data = dict(c.data)
        if c.nonce_form is not None and actor != A:
            form = browser.get(c.nonce_form(cw))
            match = NONCE.search(form.text)
            data["form_nonce"] = match.group(1) if match else "none"
        response = browser.post(path, data, csrf=actor != A)
    status = response.status_code
    if status == 303:
        location = response.headers["location"]
        if location == "/console/login?done=signed-out" and path == "/console/logout":
            return "ok"
        if location.startswith("/console/login") and actor != A:
            return "login"  # a signed-in actor must never be bounced to sign in
        return 303 if location.startswith("/console/login") else "ok"
    if status in (200, 201):
        return "ok"
    return status


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.method == "GET"))
def test_get(name: str, readonly_world: ConsoleWorld) -> None:
    c = CASES[name]
    got = {actor: outcome(readonly_world, c, actor) for actor in ACTORS}
    assert got == {actor: c.expected(actor) for actor in ACTORS}


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.method == "POST"))
def test_post(name: str, cw: ConsoleWorld, fresh_world: Callable[[], ConsoleWorld]) -> None:
    c = CASES[name]
    refused = [a for a in ACTORS if c.expected(a) != "ok"]
    got = {actor: outcome(cw, c, actor) for actor in refused}
    for actor in ACTORS:
        if c.expected(actor) == "ok":
            got[actor] = outcome(cw if c.repeatable else fresh_world(), c, actor)
    assert got == {actor: c.expected(actor) for actor in ACTORS}


def served_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) the app serves, through included routers at any depth
    (FastAPI keeps an included router as one entry holding the original's routes)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from served_routes(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + getattr(route, "path", ""), set(getattr(route, "methods", None) or ())


def test_every_console_route_is_in_the_matrix(readonly_world: ConsoleWorld) -> None:
    """A new route without a row here fails, so nobody forgets who may use it."""
    cw = readonly_world
    templates = set()
    for c in CASES.values():
        path = c.path(cw)
        path = re.sub(r"/ssh-keys/\d+(?=/|$)", "/ssh-keys/{}", path)
        path = path.replace("/crons/nightly/", "/crons/{}/")
        for value in (
            cw.pid,
            *(v for v in cw.world.ids.values() if not v.isdigit()),
            *cw.backup_ids.values(),
            *cw.activity_ids.values(),
        ):
            path = path.replace(value, "{}")
        path = re.sub(r"/(me|pv|ev|main|dev|old|stage)(?=/|$)", "/{}", path)
        templates.add((c.method, path))
    routes = set()
    for path, methods in served_routes(cw.app.routes):
        if not path.startswith("/console/") or "{rest" in path:
            continue
        for method in methods - {"HEAD"}:
            routes.add((method, re.sub(r"\{[^}]+\}", "{}", path)))
    assert ("POST", "/console/login") in routes  # the walk reaches included routers
    uncovered = {
        r
        for r in routes
        if r not in templates
        and r not in {("GET", "/console/"), ("GET", "/console/login"), ("POST", "/console/login")}
        and not r[1].startswith("/console/static")
    }
    assert not uncovered, sorted(uncovered)
