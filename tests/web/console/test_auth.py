"""Signing in and out: passwords, refusals, rate limits, cookies and session checks."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from homeport.domain import accounts
from homeport.domain.ratelimit import FailureLimiter
from homeport.store.models import Account
from tests.web.console.conftest import PASSWORD, ConsoleWorld


def cookie_attrs(set_cookie: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    morsel = jar["homeport_console"]
    flags = {k: str(v) for k, v in morsel.items() if v}
    # SimpleCookie drops valueless flags it does not know; read them from the header.
    for flag in ("HttpOnly", "Secure"):
        if flag.lower() in set_cookie.lower():
            flags[flag.lower()] = "yes"
    return flags


def test_sign_in_with_email_then_log_out(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    form = browser.get("/console/login")
    assert form.status_code == 200
    assert 'name="csrf_token"' in form.text
    response = browser.login("OWNER@example.com")  # emails compare without case
    assert response.status_code == 303
    assert response.headers["location"] == "/console/projects"
    attrs = cookie_attrs(response.headers["set-cookie"])
    assert attrs["httponly"] == "yes"
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == "/console"
    assert "secure" not in attrs  # plain http here
    page = browser.get("/console/projects")
    assert page.status_code == 200 and "Shop" in page.text

    logout = browser.post("/console/logout")
    assert logout.status_code == 303
    assert logout.headers["location"] == "/console/login?done=signed-out"
    assert (
        'homeport_console=""' in logout.headers["set-cookie"]
        or "Max-Age=0" in (logout.headers["set-cookie"])
    )
    again = browser.get("/console/projects")
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login")


def test_sign_in_with_username_and_come_back_to_the_page_asked_for(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    first = browser.get(f"/console/projects/{cw.pid}/settings/users")
    assert first.status_code == 303
    target = first.headers["location"]
    assert target == f"/console/login?next=%2Fconsole%2Fprojects%2F{cw.pid}%2Fsettings%2Fusers"
    form = browser.get(target)
    assert f'value="/console/projects/{cw.pid}/settings/users"' in form.text
    wrong = browser.post(
        "/console/login",
        {"login": "owner", "password": "wrong password", "next": f"/console/projects/{cw.pid}"},
    )
    assert f'name="next" value="/console/projects/{cw.pid}"' in wrong.text  # kept on retry
    response = browser.post(
        "/console/login",
        {"login": "owner", "password": PASSWORD, "next": f"/console/projects/{cw.pid}"},
    )
    assert response.headers["location"] == f"/console/projects/{cw.pid}"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil", "/docs"]
)
def test_next_never_leaves_the_console(cw: ConsoleWorld, target: str) -> None:
    browser = cw.browser()
    browser.get("/console/login")
    response = browser.post(
        "/console/login", {"login": "owner", "password": PASSWORD, "next": target}
    )
    assert response.headers["location"] == "/console/projects"


def test_https_requests_get_a_secure_cookie(cw: ConsoleWorld) -> None:
    browser = cw.browser(base_url="https://testserver")
    response = browser.login("owner@example.com")
    assert response.status_code == 303
    assert cookie_attrs(response.headers["set-cookie"])["secure"] == "yes"


def test_wrong_password_gives_a_clear_message(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    response = browser.login("owner@example.com", "not the password")
    assert response.status_code == 401
    assert "do not match an active account" in response.text
    assert "not the password" not in response.text  # never echoed
    assert 'value="owner@example.com"' in response.text  # the login is kept
    unknown = browser.login("nobody@example.com", "whatever whatever")
    assert unknown.status_code == 401 and "do not match" in unknown.text


def test_deactivated_accounts_and_machine_users_without_password_are_refused(
    cw: ConsoleWorld,
) -> None:
    with cw.api.state.db.session(write=True) as s:
        account = s.get(Account, cw.id("dev_viewer"))
        assert account is not None
        accounts.deactivate(s, account)
        machine = s.get(Account, cw.id("machine"))
        assert machine is not None
        machine.password_hash = None
    browser = cw.browser()
    assert browser.login("dev_viewer@example.com").status_code == 401
    assert browser.login("machine@example.com").status_code == 401
    assert browser.login("machine@example.com", "").status_code == 401


def test_machine_user_with_a_password_may_sign_in(cw: ConsoleWorld) -> None:
    # A password is something an admin chose to give it; without one it is refused.
    assert cw.browser().login("machine@example.com").status_code == 303


def test_failures_are_rate_limited_like_the_token_endpoint(cw: ConsoleWorld) -> None:
    limit = 3  # the app's own limiter, made stricter so the test needs few argon2 checks
    cw.api.state.limiter = FailureLimiter(limit, 60)
    browser = cw.browser()
    for _ in range(limit):
        assert browser.login("owner@example.com", "wrong password!").status_code == 401
    blocked = browser.login("owner@example.com")  # even the right password, for now
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1
    # The same limiter guards the password grant of /oauth2/token.
    exchange = cw.api.client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "owner@example.com", "password": PASSWORD},
    )
    assert exchange.status_code == 429


def test_a_deactivation_ends_open_sessions_at_once(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_admin")
    assert browser.get("/console/projects").status_code == 200
    with cw.api.state.db.session(write=True) as s:
        account = s.get(Account, cw.id("dev_admin"))
        assert account is not None
        accounts.deactivate(s, account)
    response = browser.get("/console/projects")
    assert response.status_code == 303 and "/console/login" in response.headers["location"]


def test_a_password_change_ends_open_sessions(cw: ConsoleWorld) -> None:
    browser = cw.browser("dev_admin")
    assert browser.get("/console/projects").status_code == 200
    with cw.api.state.db.session(write=True) as s:
        account = s.get(Account, cw.id("dev_admin"))
        assert account is not None
        accounts.set_password(s, account, "a brand new password")
    assert browser.get("/console/projects").status_code == 303


def test_a_forged_or_foreign_cookie_is_no_session(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    codec_cookie = cw.console.codec.dumps(cw.console.codec.sign_in(cw.id("owner"), "x"))
    browser.client.cookies.set("homeport_console", codec_cookie + "x", path="/console")
    assert browser.get("/console/projects").status_code == 303
    # Right signature, wrong password mark (as if minted before a password change).
    browser.client.cookies.set("homeport_console", codec_cookie, path="/console")
    assert browser.get("/console/projects").status_code == 303


def test_login_page_reuses_the_visitor_session(cw: ConsoleWorld) -> None:
    browser = cw.browser()
    first = browser.get("/console/login")
    assert "set-cookie" in first.headers
    second = browser.get("/console/login")
    assert "set-cookie" not in second.headers  # the same visitor session and token
