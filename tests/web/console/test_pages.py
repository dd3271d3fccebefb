"""What the pages show and do: labels, the environment tree, the activity feed and log,
access, accounts, backups, variables and SSH keys."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from html.parser import HTMLParser

import pytest

from homeport.domain import environments, projects
from homeport.domain import variables as vars_
from homeport.store.models import Account, Activity, Backup, SshKey
from homeport.web.console.routes import projects as console_projects
from homeport.web.log_streams import FALLBACK_SECONDS, wait_for_news
from tests.web.console.conftest import PASSWORD, ConsoleWorld, crawl
from tests.world import drain

SSH_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv2f6Fk1j0Xw4wJjz8ZkQYQ3aQ9zVnqS1HhC1XH6a0E ci-runner-key"
)


class FormControls(HTMLParser):
    """Collects inputs, selects and textareas and what labels them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "_tag": tag, "_in_label": str(self.open_labels > 0)})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            c
            for c in self.controls
            if c["_in_label"] != "True"
            and (c.get("id") or "") not in self.label_for
            and not c.get("aria-label")
            and not c.get("aria-labelledby")
        ]


def test_every_input_of_every_page_has_a_label(cw: ConsoleWorld) -> None:
    pages = {}
    for actor in ("owner", "platform_admin", "dev_admin"):
        pages.update(crawl(cw.browser(actor)))
    pages.update(crawl(cw.browser(), "/console/login"))
    assert len(pages) > 40
    checked = 0
    for url, html in pages.items():
        parser = FormControls()
        parser.feed(html)
        assert parser.unlabelled() == [], url
        checked += len(parser.controls)
    assert checked > 100


def test_project_page_shows_clone_urls_and_the_host_key(cw: ConsoleWorld) -> None:
    from homeport.ssh.host_key import fingerprint, load_or_create

    key = load_or_create(cw.api.state.settings.ssh_dir)
    html = cw.browser("dev_viewer").get(f"/console/projects/{cw.pid}").text
    port = cw.api.state.settings.ssh_bind[1] if cw.api.state.settings.ssh_bind else 0
    assert f"ssh://{cw.pid}@testserver:{port}/{cw.pid}.git" in html
    assert f"/git/{cw.pid}.git" in html
    assert 'data-copy="clone-ssh"' in html and 'data-copy="clone-https"' in html
    assert fingerprint(key) in html


def test_environment_page_shows_its_head_commit(cw: ConsoleWorld) -> None:
    with cw.api.state.db.session(write=True) as s:
        env = environments.get_environment(s, projects.get_project(s, cw.pid), "dev")
        env.head_commit = "0123456789abcdef0123456789abcdef01234567"
    html = cw.browser("dev_viewer").get(f"/console/projects/{cw.pid}/environments/dev").text
    assert '<code title="0123456789abcdef0123456789abcdef01234567">0123456789ab</code>' in html
    main = cw.browser("owner").get(f"/console/projects/{cw.pid}/environments/main").text
    assert "no code pushed yet" in main


def test_project_page_shows_the_environment_tree(cw: ConsoleWorld) -> None:
    html = cw.browser("owner").get(f"/console/projects/{cw.pid}").text
    tree = html[html.index('class="env-tree"') : html.index("<h2>Activity</h2>")]
    # main is the root; dev, old and stage are nested under it, with type and status.
    assert tree.index(">main<") < tree.index('class="env-tree"', 10) < tree.index(">Dev<")
    for text in ("production", "development", "staging", "active", "inactive"):
        assert text in tree
    # A development viewer sees only development environments (as roots).
    viewer = cw.browser("dev_viewer").get(f"/console/projects/{cw.pid}").text
    assert ">Dev<" in viewer and ">main<" not in viewer and ">Stage<" not in viewer


def test_feed_marks_machine_users_and_shows_type_state_result_and_time(
    cw: ConsoleWorld,
) -> None:
    token = cw.world.token("machine")
    r = cw.api.post(f"/projects/{cw.pid}/environments/main/redeploy", token)
    aid = r.json()["_embedded"]["activities"][0]["id"]
    drain(cw.api)
    html = cw.browser("owner").get(f"/console/projects/{cw.pid}").text
    row = re.search(rf'data-activity-id="{aid}">(.*?)</tr>', html, re.S)
    assert row
    cells = row.group(1)
    assert "machine user" in cells and "environment.redeploy" in cells
    assert "complete" in cells and "success" in cells and "UTC</time>" in cells
    human = re.search(rf'data-activity-id="{cw.activity_ids["main"]}">(.*?)</tr>', html, re.S)
    assert human and "machine user" not in human.group(1)


def test_activity_page_and_its_log_stream(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    done = cw.activity_ids["dev"]
    page = browser.get(f"/console/projects/{cw.pid}/activities/{done}")
    assert page.status_code == 200
    assert "Backup" in page.text and 'data-running="0"' in page.text
    assert "activity-log.js" in page.text
    stream = browser.get(f"/console/projects/{cw.pid}/activities/{done}/log")
    assert stream.headers["content-type"].startswith("application/x-ndjson")
    items = [json.loads(line) for line in stream.text.splitlines()]
    assert items[-1]["seal"] is True and items[-1]["result"] == "success"
    messages = [i["message"] for i in items if "seq" in i]
    assert any("restorable" in m for m in messages)
    later = browser.get(f"/console/projects/{cw.pid}/activities/{done}/log?after=2")
    assert next(json.loads(x)["seq"] for x in later.text.splitlines() if '"seq"' in x) == 3


def test_log_stream_follows_a_running_activity_until_it_ends(
    cw: ConsoleWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = cw.activity_ids["pending"]
    page = cw.browser("owner").get(f"/console/projects/{cw.pid}/activities/{pending}")
    assert 'data-running="1"' in page.text and "Cancel activity" in page.text
    # The activity runs only once the stream has sent what it saw and waits for news,
    # however slowly the stream started (no fixed sleep to race with).
    waiting = threading.Event()

    async def wait_and_tell(news: asyncio.Event, at_most: float = FALLBACK_SECONDS) -> None:
        waiting.set()
        await wait_for_news(news, at_most)

    monkeypatch.setattr(console_projects, "wait_for_news", wait_and_tell)

    def run_once_waiting() -> None:
        assert waiting.wait(60)
        drain(cw.api)

    worker = threading.Thread(target=run_once_waiting)
    worker.start()
    stream = cw.browser("owner").get(f"/console/projects/{cw.pid}/activities/{pending}/log")
    worker.join()
    assert waiting.is_set()  # it waited for the worker
    items = [json.loads(line) for line in stream.text.splitlines()]
    states = [i["state"] for i in items if "state" in i and "seal" not in i]
    assert states[0] == "pending" and states[-1] == "complete"
    assert items[-1]["seal"] is True


def test_cancel_a_pending_activity(cw: ConsoleWorld) -> None:
    pending = cw.activity_ids["pending"]
    r = cw.browser("dev_admin").post(f"/console/projects/{cw.pid}/activities/{pending}/cancel")
    assert r.status_code == 303
    with cw.api.state.db.session() as s:
        assert s.query(Activity).filter_by(id=pending).one().state == "cancelled"
    page = cw.browser("dev_admin").get(r.headers["location"])
    assert "cancelled" in page.text and "Cancel activity" not in page.text


def test_environment_actions_follow_the_policy_links(cw: ConsoleWorld) -> None:
    base = f"/console/projects/{cw.pid}/environments"
    admin = cw.browser("dev_admin").get(f"{base}/dev").text
    for control in ("Redeploy", "Create backup", "Deactivate…", ">Branch</button>"):
        assert control in admin
    old = cw.browser("dev_admin").get(f"{base}/old").text
    assert ">Activate</button>" in old and ">Redeploy</button>" not in old
    contributor = cw.browser("dev_contributor").get(f"{base}/dev").text
    assert ">Branch</button>" in contributor and "Redeploy" not in contributor
    viewer = cw.browser("dev_viewer").get(f"{base}/dev").text
    for control in ("Redeploy", "Create backup", "Deactivate", ">Branch</button>"):
        assert control not in viewer
    # Production: the machine user (production admin) may redeploy, not branch
    # (branching needs a role on the new environment's type too).
    machine = cw.browser("machine").get(f"{base}/main").text
    assert "Redeploy" in machine and ">Branch</button>" not in machine


def test_branch_redeploy_deactivate_from_the_console(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_admin")
    base = f"/console/projects/{cw.pid}/environments"
    r = browser.post(
        f"{base}/dev/branch",
        {"name": "feature", "title": "Feature", "type": "development", "clone_parent": "on"},
    )
    assert r.status_code == 303 and "/activities/" in r.headers["location"]
    drain(cw.api)
    assert "complete" in browser.get(r.headers["location"]).text
    assert "Feature" in browser.get(f"/console/projects/{cw.pid}").text
    r = browser.post(f"{base}/feature/redeploy")
    assert r.status_code == 303
    confirm = browser.get(f"{base}/feature/deactivate")
    assert "Its data is removed" in confirm.text
    r = browser.post(f"{base}/feature/deactivate")
    drain(cw.api)
    assert "inactive" in browser.get(f"{base}/feature").text


def test_backup_restore_and_delete_from_the_console(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_admin")
    base = f"/console/projects/{cw.pid}/environments/dev"
    r = browser.post(f"{base}/backup", {"kind": "live"})
    assert r.status_code == 303
    drain(cw.api)
    listing = browser.get(f"{base}/backups").text
    assert listing.count("data-backup-id=") == 2 and ">live" in listing
    bid = cw.backup_ids["dev"]
    confirm = browser.get(f"{base}/backups/{bid}/restore")
    assert "Also restore the code" in confirm.text
    r = browser.post(f"{base}/backups/{bid}/restore", {"restore_code": "on"})
    drain(cw.api)
    restored = browser.get(r.headers["location"]).text
    assert "environment.restore" in restored and "success" in restored
    r = browser.post(f"{base}/backups/{bid}/delete")
    assert r.headers["location"].endswith("?done=backup-deleted")
    with cw.api.state.db.session() as s:
        assert s.query(Backup).filter_by(id=bid).count() == 0
    # Viewers see the list without the buttons.
    viewer = cw.browser("dev_viewer").get(f"{base}/backups").text
    assert "data-backup-id=" in viewer and "Restore…" not in viewer and "Delete…" not in viewer


def test_invite_change_roles_and_remove(cw: ConsoleWorld) -> None:
    admin = cw.browser("project_admin")
    users = f"/console/projects/{cw.pid}/settings/users"
    r = admin.post(
        f"{users}/invite",
        {"email": "other_admin@example.com", "role": "viewer", "staging": "contributor"},
    )
    assert r.status_code == 303  # an existing account: access at once
    page = admin.get(users).text
    row = re.search(r'<tr data-user="other_admin@example.com">(.*?)</tr>', page, re.S)
    assert row and "contributor" in row.group(1)
    r = admin.post(f"{users}/invite", {"email": "newcomer@example.com", "development": "viewer"})
    assert r.status_code == 303
    page = admin.get(users).text
    assert "Pending invitations" in page and "newcomer@example.com" in page
    again = admin.post(
        f"{users}/invite", {"email": "newcomer@example.com", "development": "viewer"}
    )
    assert again.status_code == 409 and "already been invited" in again.text
    no_role = admin.post(f"{users}/invite", {"email": "x@example.com"})
    assert no_role.status_code == 400 and "at least one environment type" in no_role.text

    other = cw.id("other_admin")
    form = admin.get(f"{users}/{other}/edit").text
    assert '<option value="contributor" selected>' in form
    r = admin.post(f"{users}/{other}/edit", {"role": "admin"})
    assert r.headers["location"].endswith("done=roles-updated")
    assert (
        cw.browser("other_admin").get(f"/console/projects/{cw.pid}/environments/stage").status_code
        == 200
    )
    r = admin.post(f"{users}/{other}/remove")
    assert r.status_code == 303
    assert cw.browser("other_admin").get(f"/console/projects/{cw.pid}").status_code == 404

    owner_id = cw.id("owner")
    assert admin.get(f"{users}/{owner_id}/edit").status_code == 403
    assert admin.post(f"{users}/{owner_id}/remove").status_code == 403
    assert f"{users}/{owner_id}/edit" not in admin.get(users).text


def test_accounts_page_creates_and_deactivates(cw: ConsoleWorld) -> None:
    admin = cw.browser("platform_admin")
    r = admin.post(
        "/console/accounts",
        {
            "email": "newbie@example.com",
            "kind": "human",
            "first_name": "New",
            "password": "a fine password",
        },
    )
    assert r.status_code == 303
    assert cw.browser().login("newbie@example.com", "a fine password").status_code == 303
    short = admin.post("/console/accounts", {"email": "s@example.com", "password": "short"})
    assert short.status_code == 400 and "at least 8" in short.text
    assert 'value="short"' not in short.text  # a password is never echoed back
    dup = admin.post("/console/accounts", {"email": "NEWBIE@example.com"})
    assert dup.status_code == 409
    r = admin.post("/console/accounts", {"email": "robot@example.com", "kind": "machine"})
    assert r.status_code == 303
    with cw.api.state.db.session() as s:
        robot = s.query(Account).filter_by(email="robot@example.com").one()
        newbie = s.query(Account).filter_by(email="newbie@example.com").one()
        assert robot.kind == "machine" and robot.password_hash is None
    assert "machine user" in admin.get("/console/accounts").text
    r = admin.post(f"/console/accounts/{newbie.id}/deactivate")
    assert r.headers["location"].endswith("done=account-deactivated")
    assert cw.browser().login("newbie@example.com", "a fine password").status_code == 401
    me = cw.id("platform_admin")
    assert admin.post(f"/console/accounts/{me}/deactivate").status_code == 409


def test_create_project_from_the_console(cw: ConsoleWorld) -> None:
    admin = cw.browser("platform_admin")
    r = admin.post("/console/projects", {"title": "Blog", "default_branch": "trunk"})
    assert r.status_code == 303
    page = admin.get(r.headers["location"]).text
    assert "Blog" in page and ">trunk<" in page and "The project was created." in page
    # The repository exists at once, and the page offers its clone URL with a Copy button.
    pid = r.headers["location"].split("/")[3].split("?")[0]
    assert (cw.api.state.settings.git_dir / f"{pid}.git" / "HEAD").read_text().strip() == (
        "ref: refs/heads/trunk"
    )
    assert f"/git/{pid}.git" in page and 'data-copy="clone-https"' in page
    bad = admin.post("/console/projects", {"title": "", "default_branch": "x"})
    assert bad.status_code == 400 and "This field is required." in bad.text
    assert "Create a project" not in cw.browser("owner").get("/console/projects").text


def test_ssh_keys_add_and_remove(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_contributor")
    r = browser.post("/console/users/me/settings/ssh-keys", {"value": SSH_KEY})
    assert r.headers["location"].endswith("done=key-added")
    page = browser.get("/console/users/me/settings/ssh-keys").text
    assert "ci-runner-key" in page and "SHA256:" in page
    bad = browser.post("/console/users/me/settings/ssh-keys", {"value": "not a key", "title": "t"})
    assert bad.status_code == 400 and "OpenSSH public key" in bad.text
    dup = cw.browser("dev_admin").post("/console/users/me/settings/ssh-keys", {"value": SSH_KEY})
    assert dup.status_code == 409
    with cw.api.state.db.session() as s:
        key_id = (
            s.query(SshKey)
            .filter(SshKey.account_id == cw.world.ids["dev_contributor"])
            .one()
            .key_id
        )
    assert (
        cw.browser("dev_admin")
        .get(f"/console/users/me/settings/ssh-keys/{key_id}/delete")
        .status_code
        == 404
    )
    r = browser.post(f"/console/users/me/settings/ssh-keys/{key_id}/delete")
    assert r.headers["location"].endswith("done=key-deleted")
    assert "ci-runner-key" not in browser.get("/console/users/me/settings/ssh-keys").text


def test_inherited_variables_are_marked_and_can_be_overridden(cw: ConsoleWorld) -> None:
    base = f"/console/projects/{cw.pid}/environments/stage/variables"
    admin = cw.browser("project_admin")
    page = admin.get(base).text
    assert "inherited from main" in page and ">Override</a>" in page
    assert f"{base}/ev/delete" not in page  # an inherited variable is deleted where it lives
    r = admin.post(
        f"{base}/ev/edit", {"value": "staged", "visible_runtime": "on", "is_enabled": "on"}
    )
    assert r.status_code == 303
    page = admin.get(base).text
    assert "inherited from" not in page and "staged" in page
    with cw.api.state.db.session() as s:
        project = projects.get_project(s, cw.pid)
        stage = environments.get_environment(s, project, "stage")
        row = vars_.get_listed(s, project, stage, "ev").row
        assert row.value == "staged" and not row.is_inheritable and not row.visible_build
    # Project-level variables have no enabled/inheritable boxes.
    form = admin.get(f"/console/projects/{cw.pid}/variables/new").text
    assert "is_enabled" not in form and "is_inheritable" not in form


def test_sign_in_page_for_a_world_password(cw: ConsoleWorld) -> None:
    assert cw.browser().login("dev_viewer", PASSWORD).status_code == 303


def test_environment_page_shows_the_deployment_and_logs_to_those_who_may_read_them(
    cw: ConsoleWorld,
) -> None:
    from tests.web.test_deployments import ROUTE, record_fake_deployment

    record_fake_deployment(cw.world, "dev")
    page = f"/console/projects/{cw.pid}/environments/dev"
    admin = cw.browser("dev_contributor").get(page).text
    assert 'id="deployment"' in admin
    assert f'<a href="{ROUTE}" rel="noopener">{ROUTE}</a>' in admin
    assert "python:3.11" in admin and "<code>ttttttt</code>" in admin
    assert 'data-log="app"' in admin and "line 299" in admin
    # A viewer sees the deployment, not the logs (reading logs needs the ssh right).
    viewer = cw.browser("dev_viewer").get(page).text
    assert 'id="deployment"' in viewer and ROUTE in viewer
    assert 'data-log="app"' not in viewer and "line 299" not in viewer
