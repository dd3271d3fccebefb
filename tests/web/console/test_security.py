"""CSRF refusals, security headers, redirects, error pages and forged POSTs."""

from __future__ import annotations

import re

import pytest

from homeport.store.models import Activity, Variable
from homeport.web.console.headers import CONTENT_SECURITY_POLICY
from tests.web.console.conftest import ConsoleWorld


def count(cw: ConsoleWorld, model: type[Activity] | type[Variable]) -> int:
    with cw.api.state.db.session() as s:
        return s.query(model).count()


def test_root_redirects_to_the_console(cw: ConsoleWorld) -> None:
    response = cw.browser().get("/")
    assert response.status_code == 302 and response.headers["location"] == "/console/"
    assert cw.browser().get("/console/").headers["location"] == "/console/projects"


def test_every_kind_of_console_response_has_the_security_headers(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    responses = [
        cw.browser().get("/"),
        cw.browser().get("/console/login"),
        cw.browser().get("/console/projects"),  # a redirect to sign in
        browser.get("/console/projects"),
        browser.get(f"/console/projects/{cw.pid}"),
        browser.get("/console/no/such/page"),
        browser.get("/console/projects/nosuchproject"),
        browser.post("/console/projects", {"title": "X"}, csrf=False),  # refused
        browser.get("/console/static/console.css"),
        browser.get("/console/static/console.js"),
    ]
    for response in responses:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    # The API keeps its own headers.
    assert "content-security-policy" not in cw.api.client.get("/health").headers


def test_pages_are_never_cached_and_carry_no_inline_script(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    for path in ("/console/projects", f"/console/projects/{cw.pid}", "/console/users/me"):
        response = browser.get(path)
        assert response.headers["cache-control"] == "no-store"
        # Every <script> has a src (CSP would block inline code anyway) and no on* handlers.
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []
        assert not re.search(r"\son[a-z]+=", response.text)
        assert "style=" not in response.text


def test_unknown_pages_and_projects_are_html_404s(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    for path in ("/console/nope", f"/console/projects/{cw.world.other_pid}"):
        response = browser.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Not found" in response.text


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_posts_without_this_sessions_csrf_token_are_refused(
    cw: ConsoleWorld, token: str | None
) -> None:
    browser = cw.browser("owner")
    before = count(cw, Activity)
    data = {"name": "dev2"}
    if token is not None:
        data["csrf_token"] = token
    response = browser.post(
        f"/console/projects/{cw.pid}/environments/main/branch", data, csrf=False
    )
    assert response.status_code == 403
    assert "could not be accepted" in response.text
    assert count(cw, Activity) == before


def test_another_sessions_csrf_token_is_refused(cw: ConsoleWorld) -> None:
    mine, theirs = cw.browser("owner"), cw.browser("owner")
    response = mine.post(
        f"/console/projects/{cw.pid}/variables",
        {"name": "X", "value": "1", "csrf_token": theirs.csrf_token()},
    )
    assert response.status_code == 403
    # The token is tied to the session, so even the same account's other session fails.
    assert mine.csrf_token() != theirs.csrf_token()


def test_login_form_needs_its_csrf_token_too(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    response = browser.post("/console/login", {"login": "owner", "password": "x" * 10}, csrf=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_forged_admin_posts_by_a_viewer_are_refused_and_change_nothing(
    cw: ConsoleWorld,
) -> None:
    viewer = cw.browser("dev_viewer")
    before = (count(cw, Activity), count(cw, Variable))
    base = f"/console/projects/{cw.pid}"
    forged = [
        (f"{base}/environments/dev/redeploy", {}),
        (f"{base}/environments/dev/deactivate", {}),
        (f"{base}/environments/dev/branch", {"name": "sneaky"}),
        (f"{base}/environments/dev/backup", {"kind": "live"}),
        (f"{base}/environments/dev/variables", {"name": "X", "value": "1"}),
        (f"{base}/environments/dev/variables/ev/delete", {}),
        (f"{base}/variables", {"name": "X", "value": "1"}),
        (f"{base}/settings/users/invite", {"email": "a@example.com", "role": "admin"}),
        (f"{base}/settings/users/machine-users", {"email": "b@example.com", "role": "admin"}),
        (f"{base}/settings/users/{cw.id('dev_viewer')}/edit", {"role": "admin"}),
        ("/console/accounts", {"email": "c@example.com", "is_admin": "on"}),
        ("/console/projects", {"title": "Mine"}),
    ]
    for path, data in forged:
        response = viewer.post(path, data)
        assert response.status_code == 403, (path, response.status_code)
        assert "Not allowed" in response.text
    assert (count(cw, Activity), count(cw, Variable)) == before


def test_domain_errors_become_readable_pages_not_500s(cw: ConsoleWorld) -> None:
    owner = cw.browser("owner")
    base = f"/console/projects/{cw.pid}"
    bad_name = owner.post(f"{base}/environments/main/branch", {"name": "no/slashes"})
    assert bad_name.status_code == 400
    assert "Use letters, digits" in bad_name.text
    assert 'value="no/slashes"' in bad_name.text  # the form keeps what was typed
    exists = owner.post(f"{base}/environments/main/branch", {"name": "dev"})
    assert exists.status_code == 409 and "already exists" in exists.text
    inactive = owner.post(f"{base}/environments/old/redeploy")
    assert inactive.status_code == 409 and "Only an active environment" in inactive.text
    not_json = owner.post(f"{base}/variables", {"name": "J", "value": "{", "is_json": "on"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.text
    missing = owner.get(f"{base}/environments/nope")
    assert missing.status_code == 404
    bad_count = owner.get(f"{base}?count=abc")
    assert bad_count.status_code == 400
    for response in (bad_name, exists, inactive, not_json, missing, bad_count):
        assert response.headers["content-type"].startswith("text/html")
