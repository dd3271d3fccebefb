"""`auth:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer

INTERACTIVE = {"SHELL_INTERACTIVE": "1"}


def test_info(cli: Cli) -> None:
    result = cli("auth:info")
    assert result.code == 0
    assert "| email                 | alice@example.com |" in result.out
    assert cli("auth:info", "id").out == "u-alice\n"
    assert cli("auth:info", "-P", "mail").out == "alice@example.com\n"
    assert cli("auth:info", "-P", "display_name").out == "Alice Admin\n"
    missing = cli("auth:info", "-P", "shoe_size")
    assert missing.code == 1 and "Property not found: shoe_size" in missing.err


def test_info_no_auto_login(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("auth:info", "--no-auto-login", unset=("PLATFORMSH_CLI_TOKEN",))
    assert (result.code, result.out, result.err) == (0, "", "")
    assert (
        "Not logged in"
        in cli("auth:info", "--no-auto-login", "-v", unset=("PLATFORMSH_CLI_TOKEN",)).err
    )
    assert fake.requests == []


def test_token(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("auth:token")
    assert result.code == 0
    assert result.out in fake.access_tokens and not result.out.endswith("\n")
    assert result.err == "Warning: keep access tokens secret.\n"
    header = cli("auth:token", "-H", "-W")
    assert header.out == f"Authorization: Bearer {result.out}" and header.err == ""


def test_api_token_login(cli: Cli) -> None:
    set_by_env = cli("auth:api-token-login", env=INTERACTIVE)
    assert set_by_env.code == 1 and "An API token is already set via config" in set_by_env.err
    non_interactive = cli("auth:api-token-login", unset=("PLATFORMSH_CLI_TOKEN",))
    assert non_interactive.code == 1
    assert "Non-interactive use of this command is not supported." in non_interactive.err
    result = cli(
        "auth:api-token-login",
        stdin=f"hpt_wrong\n{BOB_TOKEN}\n",
        env=INTERACTIVE,
        unset=("PLATFORMSH_CLI_TOKEN",),
    )
    assert result.code == 0, result
    assert "Please enter an API token:" in result.err
    assert "Invalid API token" in result.err
    assert "The API token is valid." in result.err
    assert "You are logged in.\nUsername: bob\nEmail address: bob@example.com" in result.err


def test_password_login_then_logout(cli: Cli, fake: FakeApiServer) -> None:
    env_unset = ("PLATFORMSH_CLI_TOKEN",)
    wrong = cli("login", stdin="alice@example.com\nnope\n", env=INTERACTIVE, unset=env_unset)
    assert wrong.code == 1 and "Login failed: Invalid username or password" in wrong.err
    result = cli(
        "login", stdin="alice@example.com\nalice-secret\n", env=INTERACTIVE, unset=env_unset
    )
    assert result.code == 0, result
    assert "You are logged in." in result.err
    grant = fake.calls("POST", "/oauth2/token")[-1].form()
    assert grant == {
        "grant_type": "password",
        "username": "alice@example.com",
        "password": "alice-secret",
    }
    assert cli("auth:info", "-P", "id", unset=env_unset).out == "u-alice\n"
    # An expired access token is renewed with the refresh token.
    cli.clock.now += 10_000
    assert cli("auth:info", "-P", "id", unset=env_unset).out == "u-alice\n"
    assert fake.calls("POST", "/oauth2/token")[-1].form()["grant_type"] == "refresh_token"
    out = cli("logout", unset=env_unset)
    assert out.code == 0 and "You are now logged out." in out.err
    revoked = [r.form()["token_type_hint"] for r in fake.calls("POST", "/oauth2/revoke")]
    assert sorted(revoked) == ["access_token", "refresh_token"]
    after = cli("auth:info", unset=env_unset)
    assert after.code == 3


def test_logout_with_env_token_warns_and_revokes(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("auth:info", "-P", "id").code == 0
    result = cli("logout")
    assert result.code == 0
    assert "Warning: an API token is set via config" in result.err
    assert len(fake.calls("POST", "/oauth2/revoke")) == 1
    assert fake.access_tokens == {}


def test_logout_other_sessions(cli: Cli) -> None:
    work = {**INTERACTIVE, "PLATFORMSH_CLI_SESSION_ID": "work"}
    assert (
        cli(
            "auth:api-token-login",
            stdin=BOB_TOKEN + "\n",
            env=work,
            unset=("PLATFORMSH_CLI_TOKEN",),
        ).code
        == 0
    )
    result = cli("logout", unset=("PLATFORMSH_CLI_TOKEN",))
    assert "Other sessions exist. Log out of all sessions with: platform logout --all" in result.err
    everything = cli("logout", "--all", unset=("PLATFORMSH_CLI_TOKEN",))
    assert everything.code == 0
    assert not (cli.home / ".platformsh" / ".session").exists()
