"""The console in a real browser: Debian's Chromium driven by Playwright against a real
``homeport serve`` process (its in-process worker runs the activities)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
ADMIN = "admin@example.com"
VIEWER_PASSWORD = "viewer password 123"
# Every <input>, <select> and <textarea> a person can reach must have a label.
UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)
"""

if not CHROMIUM.exists():  # pragma: no cover (the test system has it; see scripts/)
    pytest.fail(
        "Debian's chromium is needed at /usr/bin/chromium (apt-get install chromium)",
        pytrace=False,
    )

from playwright.sync_api import (  # noqa: E402 (after the check, for a clear message)
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module; its worker runs backups, restores and redeploys."""
    proc = ServerProcess(tmp_path_factory.mktemp("console-e2e") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def admin_password(server: ServerProcess) -> str:
    """The first admin's password, as ``homeport serve`` saved it."""
    return (server.data_dir / "initial-admin-password").read_text().strip()


class Visited:
    """Console pages seen during the module, to check labels and secrets across them."""

    urls: list[str] = []


def new_context(browser: Browser, server: ServerProcess) -> BrowserContext:
    """A fresh browser profile that may use the clipboard."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Page, login: str, password: str) -> None:
    """Use the sign-in form."""
    page.goto("/console/login")
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


@pytest.fixture(scope="module")
def admin_page(browser: Browser, server: ServerProcess, admin_password: str) -> Iterator[Page]:
    """The admin, signed in once for the module."""
    context = new_context(browser, server)
    page = context.new_page()
    page.on("framenavigated", lambda frame: Visited.urls.append(frame.url))
    sign_in(page, ADMIN, admin_password)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    """Keep a screenshot for people to look at (test-output/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def wait_for_activity(page: Page, timeout: float = 20) -> str:
    """On an activity page: wait until the live log script shows it finished."""
    state = page.locator("#activity-state")
    expect(state).to_have_text(re.compile("complete|failed|cancelled"), timeout=timeout * 1000)
    return state.inner_text().strip()


def project_url(page: Page) -> str:
    match = re.search(r"/console/projects/([a-z0-9]+)", page.url)
    assert match, page.url
    return f"/console/projects/{match.group(1)}"


# --- the seed: an API token shown once ------------------------------------------------


def test_create_api_token_shown_once_then_delete(admin_page: Page, server: ServerProcess) -> None:
    page = admin_page
    page.locator("details.account-menu summary").click()  # the drop-down with the name
    page.get_by_role("link", name="User page").click()
    page.get_by_role("navigation", name="User page").get_by_role(
        "link", name="Account Settings"
    ).click()
    page.get_by_role("navigation", name="Account settings").get_by_role(
        "link", name="API Tokens"
    ).click()
    page.get_by_role("link", name="Create an API Token").click()
    page.get_by_label("Name").fill("CLI automated")
    page.get_by_role("button", name="Create API Token").click()

    token_box = page.locator("#new-token")
    expect(token_box).to_be_visible()
    token = token_box.input_value()
    assert token.startswith("hpt_")
    expect(page.get_by_text("you will not be able to view the API token again")).to_be_visible()
    assert page.evaluate("() => location.search") == ""  # never in the URL
    shot(page, "api-token-created.png")

    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text(re.compile("Copied"))
    assert page.evaluate("() => navigator.clipboard.readText()") == token

    page.reload()
    assert token not in page.content()
    page.goto("/console/users/me/settings/api-tokens")
    assert token not in page.content()
    expect(page.get_by_role("cell", name="CLI automated", exact=True)).to_be_visible()
    page.go_back()
    assert token not in page.content()

    access = server.exchange(token)
    status, me = server.call("GET", "/users/me", access)
    assert status == 200 and me["email"] == ADMIN

    page.goto("/console/users/me/settings/api-tokens")
    page.get_by_role("link", name="Delete token CLI automated").click()
    page.get_by_role("button", name="Delete token").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    status, _ = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "api_token", "api_token": token},
    )
    assert status == 400
    status, _ = server.call("GET", "/users/me", access)
    assert status == 401


# --- a project, a machine user and its actions ----------------------------------------


def test_machine_user_actions_show_in_feed(admin_page: Page, server: ServerProcess) -> None:
    page = admin_page
    page.goto("/console/projects")
    page.get_by_label("Title").fill("Shop")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile("Shop"))).to_be_visible()
    base = project_url(page)

    # A development environment for later tests (branching from the console).
    page.get_by_role("link", name="main", exact=True).click()
    shot(page, "environment.png")
    page.get_by_label("New environment name").fill("dev")
    page.get_by_role("button", name="Branch").click()
    assert wait_for_activity(page) == "complete"

    page.goto(base)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Email (unique)").fill("deploy-bot@example.com")
    page.get_by_label("Name", exact=True).fill("Deploy Bot")
    page.locator("#machine-role").select_option("viewer")
    page.locator("#machine-production").select_option("admin")
    page.get_by_role("button", name="Create machine user").click()
    row = page.locator("tr[data-user='deploy-bot@example.com']")
    expect(row).to_contain_text("machine user")
    expect(row).to_contain_text("admin")
    row.get_by_role("link", name="Create an API token for Deploy Bot").click()
    page.get_by_label("Name").fill("CI")
    page.get_by_role("button", name="Create API Token").click()
    bot_token = page.locator("#new-token").input_value()
    page.get_by_role("link", name="Back to the project's users").click()
    shot(page, "project-users.png")

    bot = server.exchange(bot_token)
    pid = base.rsplit("/", 1)[1]
    status, body = server.call("POST", f"/projects/{pid}/environments/main/redeploy", bot)
    assert status == 200, body
    aid = body["_embedded"]["activities"][0]["id"]
    status, _ = server.call("POST", f"/projects/{pid}/environments/dev/redeploy", bot)
    assert status == 404  # no role on development: the environment stays invisible

    page.goto(f"{base}/activities/{aid}")
    assert wait_for_activity(page) == "complete"
    expect(page.locator("#activity-log")).not_to_be_empty()
    page.goto(base)
    feed_row = page.locator(f"tr[data-activity-id='{aid}']")
    expect(feed_row).to_contain_text("Deploy Bot")
    expect(feed_row.locator(".badge-machine")).to_have_text("machine user")
    expect(feed_row).to_contain_text("environment.redeploy")
    shot(page, "activity-feed.png")


# --- variables ------------------------------------------------------------------------


def test_sensitive_variable_never_in_html(admin_page: Page) -> None:
    page = admin_page
    page.goto("/console/projects")
    page.get_by_role("link", name="Shop").click()
    base = project_url(page)
    secret = "s3cret-" + secrets.token_hex(8)
    page.get_by_role("link", name="Variables").click()
    page.get_by_role("link", name="Add variable").click()
    page.get_by_label("Name", exact=True).fill("env:API_SECRET")
    page.get_by_label("Value", exact=True).fill(secret)
    page.get_by_label("Sensitive (write-only, cannot be undone)").check()
    page.get_by_role("button", name="Add variable").click()
    row = page.locator("tr[data-variable='env:API_SECRET']")
    expect(row).to_contain_text("sensitive")

    # The environment level too, through its own tab.
    env_var = "env-" + secrets.token_hex(8)
    page.goto(f"{base}/environments/dev/variables/new")
    page.get_by_label("Name", exact=True).fill("DB_PASSWORD")
    page.get_by_label("Value", exact=True).fill(env_var)
    page.get_by_label("Sensitive (write-only, cannot be undone)").check()
    page.get_by_role("button", name="Add variable").click()
    expect(page.locator("tr[data-variable='DB_PASSWORD']")).to_contain_text("sensitive")
    shot(page, "environment-variables.png")

    pages = [
        base,
        f"{base}/variables",
        f"{base}/variables/env%3AAPI_SECRET/edit",
        f"{base}/environments/main",
        f"{base}/environments/dev/variables",
        f"{base}/environments/dev/variables/DB_PASSWORD/edit",
        f"{base}/environments/main/variables",
        f"{base}/settings/users",
    ]
    for url in pages:
        page.goto(url)
        html = page.content()
        assert secret not in html and env_var not in html, url
    # Activities about the variables are visible, without the values.
    page.goto(base)
    for link in page.locator("table.activity-feed a").all()[:5]:
        link.click()
        assert secret not in page.content() and env_var not in page.content()
        page.go_back()


# --- backups --------------------------------------------------------------------------


def test_backup_and_restore_from_console(admin_page: Page) -> None:
    page = admin_page
    page.goto("/console/projects")
    page.get_by_role("link", name="Shop").click()
    page.get_by_role("link", name="main", exact=True).click()
    page.get_by_role("link", name="Backups").click()
    page.get_by_label("live").check()
    page.get_by_label("safe").check()
    page.get_by_role("button", name="Create backup").click()
    assert wait_for_activity(page) == "complete"
    shot(page, "activity-log.png")
    log = page.locator("#activity-log").inner_text()
    assert "Verified" in log or "backup" in log.lower(), log

    page.get_by_role("link", name="main", exact=True).first.click()
    page.get_by_role("link", name="Backups").click()
    rows = page.locator("table.backups tbody tr")
    expect(rows).to_have_count(1)
    shot(page, "backups.png")
    rows.first.get_by_role("link", name=re.compile("Restore backup")).click()
    page.get_by_role("button", name="Restore").click()
    assert wait_for_activity(page) == "complete"
    expect(page.locator("#activity-state")).to_have_text("complete")


# --- crons ----------------------------------------------------------------------------


def insert_cron_row(server: ServerProcess, pid: str, env_name: str, name: str) -> None:
    """Write a cron row into the server's database, as a deploy would (the test deploys
    no app: running the cron then fails, which is enough to see it queued and run)."""
    from datetime import UTC, datetime

    from homeport.domain import environments, projects
    from homeport.settings import Settings
    from homeport.store.db import Database
    from homeport.store.models import CronJob

    db = Database(Settings.from_env({"HOMEPORT_DATA_DIR": str(server.data_dir)}).database_url)
    try:
        with db.session(write=True) as s:
            env = environments.get_environment(s, projects.get_project(s, pid), env_name)
            spec = "0 5 * * *"
            s.add(
                CronJob(
                    environment_pk=env.pk,
                    project_id=pid,
                    app="app",
                    name=name,
                    spec=spec,
                    timezone=None,
                    definition={
                        "spec": spec,
                        "commands": {"start": "echo hello"},
                        "timeout": 86400,
                        "shutdown_timeout": 10,
                    },
                    next_run_at=datetime(2031, 1, 1, 5, 0, tzinfo=UTC),
                )
            )
    finally:
        db.dispose()


def test_run_a_cron_now_from_the_environment_page(admin_page: Page, server: ServerProcess) -> None:
    page = admin_page
    page.goto("/console/projects")
    page.get_by_role("link", name="Shop").click()
    base = project_url(page)
    insert_cron_row(server, base.rsplit("/", 1)[1], "dev", "nightly")
    page.get_by_role("link", name="dev", exact=True).click()
    crons = page.locator("#crons")
    row = crons.locator("tr[data-cron='nightly']")
    expect(row).to_contain_text("0 5 * * *")
    expect(row).to_contain_text("echo hello")
    expect(row.locator(".last-run")).to_contain_text("never")
    expect(page.locator("#ssh-variables-note")).to_contain_text("env:PLATFORMSH_CLI_TOKEN")

    row.get_by_role("button", name="Run now").click()
    notice = page.locator("#cron-queued")
    expect(notice).to_contain_text("Cron nightly of app was queued as activity")
    shot(page, "cron-run-now.png")
    activity_id = notice.get_by_role("link").inner_text().strip()
    expect(row.locator(".last-run a")).to_have_attribute("href", f"{base}/activities/{activity_id}")
    notice.get_by_role("link").click()
    # The worker was woken and ran it; with no app deployed the cron cannot start.
    assert wait_for_activity(page) in ("complete", "failed")
    expect(page.locator("body")).to_contain_text("environment.cron")


# --- a viewer -------------------------------------------------------------------------


def test_viewer_sees_no_admin_controls_and_forged_post_is_refused(
    admin_page: Page, browser: Browser, server: ServerProcess
) -> None:
    page = admin_page
    page.goto("/console/accounts")
    page.get_by_label("Email").fill("viewer@example.com")
    page.get_by_label("First name").fill("Vera")
    page.get_by_label("Last name").fill("Viewer")
    page.get_by_label("Password (optional)").fill(VIEWER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("tr[data-account='viewer@example.com']")).to_be_visible()

    page.goto("/console/projects")
    page.get_by_role("link", name="Shop").click()
    base = project_url(page)
    page.goto(f"{base}/settings/users")
    page.get_by_label("Email", exact=True).fill("viewer@example.com")
    page.locator("#invite-role").select_option("viewer")
    page.locator("#invite-development").select_option("viewer")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("tr[data-user='viewer@example.com']")).to_be_visible()

    context = new_context(browser, server)
    viewer = context.new_page()
    viewer.goto("/console/login")
    shot(viewer, "login.png")
    sign_in(viewer, "viewer@example.com", VIEWER_PASSWORD)
    viewer.get_by_role("link", name="Shop").click()
    expect(viewer.get_by_role("link", name="dev", exact=True)).to_be_visible()
    expect(viewer.get_by_role("link", name="main", exact=True)).to_have_count(0)
    viewer.get_by_role("link", name="dev", exact=True).click()
    for name in ("Redeploy", "Branch", "Create backup", "Activate"):
        expect(viewer.get_by_role("button", name=name)).to_have_count(0)
    expect(viewer.get_by_role("link", name=re.compile("Deactivate"))).to_have_count(0)
    viewer.get_by_role("link", name="Variables").click()
    expect(viewer.get_by_role("link", name="Add variable")).to_have_count(0)
    viewer.goto(f"{base}/settings/users")
    expect(viewer.get_by_role("button", name="Invite")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Create machine user")).to_have_count(0)
    expect(viewer.get_by_role("link", name=re.compile("^Roles"))).to_have_count(0)
    assert viewer.locator("body").inner_text().count("Accounts") == 0

    # A forged POST, with the viewer's own valid CSRF token, is refused by the policy.
    token = viewer.locator("input[name='csrf_token']").first.input_value()
    for path, form in (
        (f"{base}/environments/dev/redeploy", {}),
        (
            f"{base}/settings/users/machine-users",
            {"email": "evil@example.com", "production": "admin"},
        ),
        (f"{base}/variables", {"name": "X", "value": "1"}),
        ("/console/accounts", {"email": "evil2@example.com"}),
    ):
        response = context.request.post(path, form={"csrf_token": token, **form}, max_redirects=0)
        assert response.status == 403, (path, response.status)
    response = context.request.post(f"{base}/environments/dev/redeploy", max_redirects=0)
    assert response.status == 403  # no CSRF token at all
    context.close()


# --- layout: every page at desktop and phone widths -----------------------------------

WIDTHS = (1280, 420)
# Overflow problems of the page in view: the page wider than the window, an element of a
# card sticking out of its card (not counting what scrolls inside its own container),
# and, when ``fit_tables``, a table that needs scrolling at all (a clipped column).
OVERFLOW_JS = """
(fitTables) => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) {
    problems.push(`page is ${doc.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  const scrolls = (el) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  const describe = (el) => {
    const cls = typeof el.className === 'string' ? el.className.trim() : '';
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (cls ? '.' + cls.split(/\\s+/).join('.') : '');
  };
  for (const card of document.querySelectorAll('.card')) {
    const box = card.getBoundingClientRect();
    if (scrolls(card)) problems.push(`${describe(card)} clips or scrolls its content`);
    for (const el of card.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (el.closest('.visually-hidden')) continue;
      let inner = false;
      for (let a = el.parentElement; a && a !== card; a = a.parentElement) {
        if (scrolls(a)) { inner = true; break; }
      }
      if (inner) continue;
      if (r.right > box.right + 1 || r.left < box.left - 1) {
        problems.push(`${describe(el)} (${Math.round(r.left)}..${Math.round(r.right)})`
          + ` sticks out of ${describe(card)} (${Math.round(box.left)}..${Math.round(box.right)})`);
      }
    }
  }
  if (fitTables) {
    for (const box of document.querySelectorAll('.table-scroll')) {
      if (box.scrollWidth > box.clientWidth + 1) {
        const t = box.querySelector('table');
        problems.push(
          `table ${t ? describe(t) : ''} needs ${box.scrollWidth}px, has ${box.clientWidth}px`);
      }
    }
  }
  return problems;
}
"""


def test_every_page_fits_at_desktop_and_phone_widths(admin_page: Page) -> None:
    """Screenshots of every console page at 1280 and 420 px (test-output/screenshots/),
    and no page overflows: not the window, not a card; at 1280 no table even scrolls."""
    page = admin_page
    page.goto("/console/projects")
    page.get_by_role("link", name="Shop").click()
    base = project_url(page)
    activity = page.locator("table.activity-feed a").first.get_attribute("href")
    assert activity
    pages = {
        "projects": "/console/projects",
        "project": base,
        "activity": activity,
        "environment-main": f"{base}/environments/main",
        "environment-dev": f"{base}/environments/dev",
        "backups": f"{base}/environments/main/backups",
        "variables": f"{base}/variables",
        "variable-new": f"{base}/variables/new",
        "environment-variables": f"{base}/environments/dev/variables",
        "project-users": f"{base}/settings/users",
        "accounts": "/console/accounts",
        "user": "/console/users/me",
        "user-settings": "/console/users/me/settings",
        "api-tokens": "/console/users/me/settings/api-tokens",
        "api-token-new": "/console/users/me/settings/api-tokens/new",
        "ssh-keys": "/console/users/me/settings/ssh-keys",
        "not-found": "/console/no-such-page",
    }
    problems: dict[str, list[str]] = {}
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for name, url in pages.items():
                response = page.goto(url)
                assert response is not None
                assert response.status == (404 if name == "not-found" else 200), (url, width)
                shot(page, f"layout-{name}-{width}.png")
                found = page.evaluate(OVERFLOW_JS, width >= 1000)
                if found:
                    problems[f"{name} at {width}px ({url})"] = found
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())

    # The 404 page keeps the navigation for a signed-in person.
    page.goto("/console/no-such-page")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator("details.account-menu summary")).to_be_visible()


# --- keyboard only, and labels --------------------------------------------------------


def tab_to(page: Page, label: str, limit: int = 80) -> None:
    """Press Tab until the focused element's text or label is ``label``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const el = document.activeElement; if (!el) return '';"
            " return (el.getAttribute('aria-label') || el.innerText || el.value || '').trim(); }"
        )
        if focused == label:
            return
    raise AssertionError(f"could not reach {label!r} with the Tab key")


def enter_and_wait(page: Page) -> None:
    """Press Enter on a link or submit button and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_keyboard_only_token_flow(
    browser: Browser, server: ServerProcess, admin_password: str
) -> None:
    context = new_context(browser, server)
    page = context.new_page()
    page.goto("/console/login")
    expect(page.locator("#login")).to_be_focused()  # the login field has focus on arrival
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    page.keyboard.type(admin_password)
    enter_and_wait(page)
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    tab_to(page, page.locator("details.account-menu summary").inner_text().strip())
    page.keyboard.press("Enter")  # opens the drop-down
    tab_to(page, "User page")
    enter_and_wait(page)
    tab_to(page, "Account Settings")
    enter_and_wait(page)
    tab_to(page, "API Tokens")
    enter_and_wait(page)
    tab_to(page, "Create an API Token")
    enter_and_wait(page)
    expect(page.locator("#token-name")).to_be_focused()  # and so does the token's name
    page.keyboard.type("Keyboard token")
    enter_and_wait(page)
    expect(page.locator("#new-token")).to_be_visible()
    token = page.locator("#new-token").input_value()
    tab_to(page, "Copy")
    page.keyboard.press("Enter")
    expect(page.locator("#copy-status")).to_have_text(re.compile("Copied"))
    assert page.evaluate("() => navigator.clipboard.readText()") == token
    context.close()


def test_every_visited_page_labels_its_inputs(admin_page: Page) -> None:
    page = admin_page
    urls = sorted({u for u in Visited.urls if "/console/" in u and "/log" not in u})
    assert len(urls) >= 10, urls
    for url in urls:
        page.goto(url)
        assert page.evaluate(UNLABELLED_JS) == [], url
