"""Console fixtures: a world (tests/world.py) built once, copied per test, with passwords,
backups and a pending activity; and browsers (TestClients with their own cookie jars)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from homeport.domain import access, accounts, backups, crons, environments, projects, ssh_keys
from homeport.domain.policy import load_grants
from homeport.settings import Settings
from homeport.store.models import Account, ApiToken
from homeport.web.app import create_app
from homeport.web.console.deps import ConsoleState
from homeport.web.state import AppState
from tests.helpers import Api
from tests.stores import Databases
from tests.world import World, build_world, drain

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One person's browser: a TestClient with its own cookies, not following redirects.

    Every HTML body it receives is kept in ``seen`` (shared per world) for secrecy checks.
    """

    def __init__(
        self,
        app: FastAPI,
        seen: list[str],
        activate: Callable[[], None],
        base_url: str = "http://testserver",
    ):
        self.client = TestClient(
            app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False
        )
        self.seen = seen
        self.activate = activate
        self._csrf: str | None = None

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET, recording the body."""
        self.activate()
        response: httpx.Response = self.client.get(path, **kw)
        self.seen.append(response.text)
        return response

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: Any
    ) -> httpx.Response:
        """POST a form, with this session's CSRF token unless ``csrf`` is False."""
        form = dict(data or {})
        if csrf and "csrf_token" not in form:
            form["csrf_token"] = self.csrf_token()
        self.activate()
        response: httpx.Response = self.client.post(path, data=form, **kw)
        self.seen.append(response.text)
        return response

    def csrf_token(self) -> str:
        """The token the session's pages carry (read from a page, as a browser would;
        it stays the same for the whole session)."""
        if self._csrf is None:
            self.activate()
            page = self.client.get("/console/users/me")
            if page.status_code != 200:
                page = self.client.get("/console/login")
            match = CSRF_INPUT.search(page.text)
            self._csrf = match.group(1) if match else ""
        return self._csrf

    def login(self, login: str, password: str = PASSWORD) -> httpx.Response:
        """Sign in through the form (a new session, so a new CSRF token afterwards)."""
        self._csrf = None
        self.get("/console/login")
        response = self.post("/console/login", {"login": login, "password": password})
        self._csrf = None
        return response


class WorldApi(Api):
    """The API helper, pointing the shared app at its own world before each call."""

    def __init__(self, client: TestClient, state: AppState, app: FastAPI) -> None:
        super().__init__(client, state)
        self.app = app

    def activate(self) -> None:
        """Serve this world's state from the shared app."""
        self.app.state.homeport = self.state

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Call the API in this world."""
        self.activate()
        return super().request(method, path, token, **kwargs)

    def exchange(self, api_token: str) -> httpx.Response:
        """Exchange an API token in this world."""
        self.activate()
        return super().exchange(api_token)


@dataclass
class ConsoleWorld:
    """A copied world: the app, the API helper and the actors' ids.

    Worlds share one app (FastAPI prepares an app's routes on its first request, which
    costs more than copying a world); each request first points the app at its world's
    state. Copies share the server secret, so session cookies and tokens stay valid.
    """

    app: FastAPI
    api: WorldApi
    world: World
    backup_ids: dict[str, str]
    activity_ids: dict[str, str]
    seen: list[str] = field(default_factory=list)

    @property
    def pid(self) -> str:
        """The project every actor is placed on."""
        return self.world.pid

    @property
    def console(self) -> ConsoleState:
        """The app's console state (its session codec)."""
        console: ConsoleState = self.app.state.console
        return console

    def id(self, actor: str) -> str:
        """An actor's account id."""
        return self.world.ids[actor]

    def browser(self, actor: str | None = None, base_url: str = "http://testserver") -> Browser:
        """A browser, signed in as ``actor`` (a session minted without the login form;
        sign-in itself has its own tests), or anonymous."""
        browser = Browser(self.app, self.seen, self.api.activate, base_url)
        if actor is not None and actor != "anonymous":
            with self.api.state.db.session() as s:
                account = s.get(Account, self.id(actor))
                assert account is not None
                session = self.console.codec.sign_in(account.id, account.password_hash)
            browser.client.cookies.set(
                "homeport_console", self.console.codec.dumps(session), path="/console"
            )
        return browser


@dataclass
class Template:
    data_dir: Path
    world: World
    backup_ids: dict[str, str]
    activity_ids: dict[str, str]
    databases: Databases
    db_env: dict[str, str]


def _new_public_key() -> str:
    """A fresh ed25519 public key in OpenSSH form."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    return raw.decode() + " ci@example.com"


def _settings(data_dir: Path, db_env: dict[str, str]) -> Settings:
    env = {"HOMEPORT_DATA_DIR": str(data_dir), "HOMEPORT_WORKER": "0"}
    return Settings.from_env(env | db_env)


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Template:
    """The world, built once: passwords for everyone, a backup of main and of dev, and a
    pending redeploy of dev (something to cancel)."""
    data_dir = tmp_path_factory.mktemp("console-world") / "data"
    data_dir.mkdir()
    db_env = databases.fresh(data_dir)
    settings = _settings(data_dir, db_env)
    state = AppState.build(settings)
    app = create_app(settings, state)
    with TestClient(app) as client:
        api = Api(client, state)
        world = build_world(api)
        backup_ids: dict[str, str] = {}
        activity_ids: dict[str, str] = {}
        with state.db.session(write=True) as s:
            everyone = list(s.query(Account))
            accounts.set_password(s, everyone[0], PASSWORD)
            for account in everyone[1:]:  # one argon2 hash is enough (and much faster)
                account.password_hash = everyone[0].password_hash
            project = projects.get_project(s, world.pid)
            owner = s.get(Account, world.ids["owner"])
            assert owner is not None
            grants = load_grants(s, owner, project)
            for env_name in ("main", "dev"):
                env = environments.get_environment(s, project, env_name)
                activity = backups.request_backup(s, grants, env, True)
                backup_ids[env_name] = str(activity.payload["backup_name"])
                activity_ids[env_name] = activity.id
        drain(api)
        with state.db.session(write=True) as s:
            project = projects.get_project(s, world.pid)
            owner = s.get(Account, world.ids["owner"])
            assert owner is not None
            grants = load_grants(s, owner, project)
            dev = environments.get_environment(s, project, "dev")
            activity_ids["pending"] = environments.redeploy(s, grants, dev).id
            # A cron row as a deploy of an app with a `nightly` cron writes it.
            crons.sync(
                s,
                dev,
                [
                    crons.JobSpec(
                        "app",
                        "nightly",
                        "0 5 * * *",
                        None,
                        {
                            "spec": "0 5 * * *",
                            "commands": {"start": "true"},
                            "timeout": 86400,
                            "shutdown_timeout": 10,
                        },
                    )
                ],
            )
            # The machine user's API token and an SSH key of its own, to delete.
            machine = s.get(Account, world.ids["machine"])
            assert machine is not None
            token_id = s.scalar(select(ApiToken.id).where(ApiToken.account_id == machine.id))
            assert token_id is not None
            key = ssh_keys.add_key(s, machine, _new_public_key(), "ci")
            world.ids["machine_token"] = token_id
            # A pending invitation (nobody has this email yet), to cancel.
            invitation, _ = access.invite(
                s,
                owner,
                project,
                "pending-guest@example.com",
                access.parse_permissions(["viewer", "development:viewer"]),
            )
            world.ids["invitation"] = invitation.id
            world.ids["machine_key"] = str(key.key_id)
    state.db.dispose()
    return Template(data_dir, world, backup_ids, activity_ids, databases, db_env)


def copy_world(template: Template, data_dir: Path, app: FastAPI) -> ConsoleWorld:
    """A private copy of the world (copying is much faster than building)."""
    shutil.copytree(template.data_dir, data_dir)
    state = AppState.build(_settings(data_dir, template.databases.copy(template.db_env)))
    api = WorldApi(TestClient(app, raise_server_exceptions=False), state, app)
    api.activate()
    world = World(
        api=api,
        pid=template.world.pid,
        other_pid=template.world.other_pid,
        tokens=dict(template.world.tokens),
        ids=dict(template.world.ids),
    )
    return ConsoleWorld(app, api, world, dict(template.backup_ids), dict(template.activity_ids))


@pytest.fixture(scope="session")
def console_app(console_template: Template) -> FastAPI:
    """The app every world copy is served by."""
    return create_app(_settings(console_template.data_dir, console_template.db_env))


@pytest.fixture
def cw(console_template: Template, console_app: FastAPI, tmp_path: Path) -> Iterator[ConsoleWorld]:
    """A private copy of the world for one test."""
    world = copy_world(console_template, tmp_path / "data", console_app)
    yield world
    world.api.state.db.dispose()


@pytest.fixture(scope="module")
def readonly_world(
    console_template: Template, console_app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleWorld]:
    """One copy shared by a module's tests that only read (GET pages)."""
    world = copy_world(console_template, tmp_path_factory.mktemp("readonly") / "data", console_app)
    yield world
    world.api.state.db.dispose()


@pytest.fixture
def fresh_world(
    console_template: Template, console_app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], ConsoleWorld]]:
    """Make more private copies of the world within one test."""
    made: list[ConsoleWorld] = []

    def make() -> ConsoleWorld:
        made.append(
            copy_world(console_template, tmp_path_factory.mktemp("fresh") / "data", console_app)
        )
        return made[-1]

    yield make
    for world in made:
        world.api.state.db.dispose()


LINK = re.compile(r'href="(/console/[^"#]*)"')


def crawl(browser: Browser, start: str = "/console/projects", limit: int = 400) -> dict[str, str]:
    """Every console page reachable by links from ``start`` (GET only): url -> HTML.

    Links are followed as a person would click them; forms are not submitted.
    """
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0).replace("&amp;", "&")
        if url in seen or url.startswith("/console/static/"):
            continue
        response = browser.get(url)
        assert response.status_code in (200, 303), (url, response.status_code)
        seen[url] = response.text
        queue.extend(u for u in LINK.findall(response.text) if u not in seen)
    assert len(seen) < limit, "the crawl did not finish"
    return seen
