"""API tokens in the console: shown once (only in the POST response), never again."""

from __future__ import annotations

import re

import httpx

from homeport.store.models import ApiToken
from tests.web.console.conftest import Browser, ConsoleWorld

TOKEN = re.compile(r"hpt_[0-9A-Za-z]{38}")
NONCE = re.compile(r'name="form_nonce" value="([^"]+)"')


def new_token(browser: Browser, slug: str, name: str, query: str = "") -> httpx.Response:
    form = browser.get(f"/console/users/{slug}/settings/api-tokens/new{query}")
    assert form.status_code == 200, form.text
    nonce = NONCE.search(form.text)
    assert nonce
    return browser.post(
        f"/console/users/{slug}/settings/api-tokens{query}",
        {"name": name, "expires_in": "", "form_nonce": nonce.group(1)},
    )


def tokens_of(cw: ConsoleWorld, account_id: str) -> list[str]:
    with cw.api.state.db.session() as s:
        return [t.name for t in s.query(ApiToken).filter_by(account_id=account_id)]


def test_token_is_shown_once_in_the_post_response_only(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_contributor")
    response = new_token(browser, "me", "CLI automated")
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert "location" not in response.headers
    [token] = set(TOKEN.findall(response.text))
    assert token not in response.headers.get("set-cookie", "")
    assert "you will not be able to view the API token again" in response.text
    assert 'data-copy="new-token"' in response.text

    # Never again: not on the list, the form, the settings page or anywhere else.
    for path in (
        "/console/users/me/settings/api-tokens",
        "/console/users/me/settings/api-tokens/new",
        "/console/users/me/settings",
        "/console/users/me",
        "/console/projects",
    ):
        page = browser.get(path)
        assert page.status_code == 200 and token not in page.text, path
    listing = browser.get("/console/users/me/settings/api-tokens").text
    assert "CLI automated" in listing and f"…{token[-4:]}" in listing

    # The token works with the token endpoint.
    assert cw.api.exchange(token).status_code == 200


def test_resubmitting_the_same_form_creates_and_shows_nothing(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_contributor")
    form = browser.get("/console/users/me/settings/api-tokens/new")
    match = NONCE.search(form.text)
    assert match
    data = {"name": "Once", "form_nonce": match.group(1)}
    first = browser.post("/console/users/me/settings/api-tokens", data)
    assert first.status_code == 201 and TOKEN.search(first.text)
    # What a reload of the result (or the back button and resubmit) sends again:
    again = browser.post("/console/users/me/settings/api-tokens", data)
    assert again.status_code == 409
    assert "already submitted" in again.text
    assert not TOKEN.search(again.text)
    assert tokens_of(cw, cw.id("dev_contributor")).count("Once") == 1
    missing = browser.post("/console/users/me/settings/api-tokens", {"name": "No nonce"})
    assert missing.status_code == 409 and not TOKEN.search(missing.text)


def test_invalid_input_shows_the_form_again(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    for name, days, message in (
        ("", "", "This field is required."),
        ("x", "abc", "whole number of days"),
        ("x", "0", "Between 1 and 3650 days."),
        ("x", "99999", "Between 1 and 3650 days."),
    ):
        form = browser.get("/console/users/me/settings/api-tokens/new")
        nonce = NONCE.search(form.text)
        assert nonce
        response = browser.post(
            "/console/users/me/settings/api-tokens",
            {"name": name, "expires_in": days, "form_nonce": nonce.group(1)},
        )
        assert response.status_code == 400, (name, days)
        assert message in response.text
        assert not TOKEN.search(response.text)
    assert tokens_of(cw, cw.id("owner")) == ["test"]  # only the world's own token


def test_expiry_in_days_is_shown(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    form = browser.get("/console/users/me/settings/api-tokens/new")
    nonce = NONCE.search(form.text)
    assert nonce
    response = browser.post(
        "/console/users/me/settings/api-tokens",
        {"name": "Short", "expires_in": "7", "form_nonce": nonce.group(1)},
    )
    assert response.status_code == 201
    assert "never" in response.text  # the world's token
    assert response.text.count(" UTC</time>") >= 3  # created x2, and one expiry


def test_delete_asks_first_then_the_token_stops_working(cw: ConsoleWorld) -> None:
    browser = cw.browser("owner")
    token = TOKEN.findall(new_token(browser, "me", "Doomed").text)[0]
    access = cw.api.access_token(token)
    with cw.api.state.db.session() as s:
        token_id = s.query(ApiToken).filter_by(name="Doomed").one().id
    confirm = browser.get(f"/console/users/me/settings/api-tokens/{token_id}/delete")
    assert confirm.status_code == 200 and "Delete token" in confirm.text
    assert "Doomed" in tokens_of(cw, cw.id("owner"))  # asking deletes nothing
    done = browser.post(f"/console/users/me/settings/api-tokens/{token_id}/delete")
    assert done.status_code == 303
    assert done.headers["location"].endswith("?done=token-deleted")
    assert "Doomed" not in tokens_of(cw, cw.id("owner"))
    assert cw.api.exchange(token).status_code == 400
    assert cw.api.get("/users/me", access).status_code == 401
    # Someone else's token id is not found through my pages.
    other = cw.browser("dev_admin")
    assert other.get(f"/console/users/me/settings/api-tokens/{token_id}/delete").status_code == 404


def test_machine_user_created_from_users_page_gets_its_token_from_its_row(
    cw: ConsoleWorld,
) -> None:
    admin = cw.browser("project_admin")
    users = f"/console/projects/{cw.pid}/settings/users"
    created = admin.post(
        f"{users}/machine-users",
        {
            "email": "deploy-bot@example.com",
            "name": "Deploy Bot",
            "role": "viewer",
            "production": "admin",
            "staging": "none",
            "development": "none",
        },
    )
    assert created.status_code == 303
    page = admin.get(created.headers["location"])
    assert "The machine user was created" in page.text
    row = re.search(r'<tr data-user="deploy-bot@example.com">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert "machine user" in row.group(1)
    link = re.search(
        r'href="(/console/users/([^/]+)/settings/api-tokens/new\?project=\w+)"', row.group(1)
    )
    assert link, row.group(1)
    bot_id = link.group(2)
    form = admin.get(link.group(1))
    assert "Create an API Token for Deploy Bot" in form.text
    nonce = NONCE.search(form.text)
    assert nonce
    response = admin.post(
        f"/console/users/{bot_id}/settings/api-tokens?project={cw.pid}",
        {"name": "CI", "form_nonce": nonce.group(1)},
    )
    assert response.status_code == 201
    token = TOKEN.findall(response.text)[0]
    assert (
        "Back to the project&#39;s users" in response.text or "Back to the project" in response.text
    )

    bot = cw.api.access_token(token)
    redeploy = cw.api.post(f"/projects/{cw.pid}/environments/main/redeploy", bot)
    assert redeploy.status_code == 200
    assert cw.api.post(f"/projects/{cw.pid}/environments/dev/redeploy", bot).status_code == 404
    feed = admin.get(f"/console/projects/{cw.pid}").text
    aid = redeploy.json()["_embedded"]["activities"][0]["id"]
    row = re.search(rf'data-activity-id="{aid}">(.*?)</tr>', feed, re.S)
    assert row and "Deploy Bot" in row.group(1) and "machine user" in row.group(1)

    # Another project admin (not its creator) cannot see or manage its tokens.
    owner = cw.browser("owner")
    assert owner.get(f"/console/users/{bot_id}/settings/api-tokens").status_code == 404
    assert "Create API token" not in re.search(
        r'<tr data-user="deploy-bot@example.com">(.*?)</tr>', owner.get(users).text, re.S
    ).group(1)  # type: ignore[union-attr]
    # Platform admins may.
    assert (
        cw.browser("platform_admin").get(f"/console/users/{bot_id}/settings/api-tokens").status_code
        == 200
    )
