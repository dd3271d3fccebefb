"""Credentials: exchange, caching, re-exchange, precedence (`homeport.cli.auth`)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

from .conftest import BOB_TOKEN, Cli
from .fake_api import FakeApiServer


def session_files(home: Path) -> list[Path]:
    return sorted((home / ".platformsh" / ".session").rglob("*.json"))


def test_exchange_sends_form_and_basic_auth(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("auth:info", "-P", "email")
    assert result.code == 0, result
    assert result.out == "alice@example.com\n"
    (exchange,) = fake.calls("POST", "/oauth2/token")
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (
        exchange.headers["authorization"] == "Basic " + base64.b64encode(b"platform-cli:").decode()
    )
    assert exchange.form() == {"grant_type": "api_token", "api_token": "hpt_alice_token"}
    api_call = fake.calls("GET", "/users/me")[0]
    assert api_call.headers["authorization"].startswith("Bearer ")


def test_access_token_is_cached_privately(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("auth:info", "-P", "id").code == 0
    assert cli("auth:info", "-P", "id").code == 0
    assert len(fake.calls("POST", "/oauth2/token")) == 1
    (cache,) = session_files(cli.home)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.parent.parent.stat().st_mode) == 0o700
    assert cache.parent.name.startswith("sess-cli-api-token-")
    content = cache.read_text()
    assert "hpt_alice_token" not in content
    assert json.loads(content)["api_url"] == cli.environ["PLATFORMSH_CLI_API_URL"]


def test_cache_is_keyed_on_token_and_server(cli: Cli, fake: FakeApiServer, tmp_path: Path) -> None:
    assert cli("auth:info", "-P", "id").out == "u-alice\n"
    assert cli("auth:info", "-P", "id", env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN}).out == "u-bob\n"
    other = FakeApiServer().start()
    try:
        other.add_user("u-zed", "zed@example.com", token="hpt_alice_token")
        result = cli("auth:info", "-P", "id", env={"PLATFORMSH_CLI_API_URL": other.url})
        assert result.out == "u-zed\n"
    finally:
        other.stop()
    assert len(session_files(cli.home)) == 3


def test_re_exchange_when_expired(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("auth:info", "-P", "id").code == 0
    cli.clock.now += 60
    assert cli("auth:info", "-P", "id").code == 0
    assert len(fake.calls("POST", "/oauth2/token")) == 1
    cli.clock.now += fake.expires_in
    assert cli("auth:info", "-P", "id").code == 0
    assert len(fake.calls("POST", "/oauth2/token")) == 2


def test_re_exchange_on_401_retries_once(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("auth:info", "-P", "id").code == 0
    fake.expire_access_tokens()
    result = cli("auth:info", "-P", "id")
    assert result.code == 0, result
    assert result.out == "u-alice\n"
    assert len(fake.calls("POST", "/oauth2/token")) == 2
    statuses = [r.headers["authorization"] for r in fake.calls("GET", "/users/me")]
    assert len(statuses) == 3 and statuses[1] != statuses[2]


def test_invalid_token_is_login_required(cli: Cli) -> None:
    result = cli("auth:info", env={"PLATFORMSH_CLI_TOKEN": "hpt_wrong"})
    assert result.code == 3
    assert "The API token is invalid." in result.err
    assert "[LoginRequiredException]" in result.err
    assert "Authentication is required." in result.err
    assert "platform login" not in result.err
    assert "Traceback" not in result.err


def test_no_credentials_non_interactive(cli: Cli) -> None:
    result = cli("var", "-p", "proj1", "-e", "main", unset=("PLATFORMSH_CLI_TOKEN",))
    assert result.code == 3
    assert (
        "Authentication is required.\n\n  Please log in by running:\n      platform login"
        in result.err
    )
    assert result.out == ""
    # Machine users have no password: the API-token routes are named too.
    assert "run: platform auth:api-token-login" in result.err
    assert "configure an API token using the PLATFORMSH_CLI_TOKEN environment" in result.err


def test_deprecated_access_token_is_used_directly(cli: Cli, fake: FakeApiServer) -> None:
    issued = fake.issue("u-bob")["access_token"]
    result = cli(
        "auth:info",
        "-P",
        "id",
        env={"PLATFORMSH_CLI_API_TOKEN": issued},
        unset=("PLATFORMSH_CLI_TOKEN",),
    )
    assert result.out == "u-bob\n"
    assert fake.calls("POST", "/oauth2/token") == []
    fake.expire_access_tokens()
    result = cli(
        "auth:info", env={"PLATFORMSH_CLI_API_TOKEN": issued}, unset=("PLATFORMSH_CLI_TOKEN",)
    )
    assert result.code == 3
    assert "Unauthorized." in result.err


def test_token_file_and_config_yaml(cli: Cli) -> None:
    config_dir = cli.home / ".platformsh"
    config_dir.mkdir()
    (config_dir / "token").write_text(BOB_TOKEN + "\n")
    (config_dir / "config.yaml").write_text("api:\n  token_file: token\n")
    assert cli("auth:info", "-P", "id", unset=("PLATFORMSH_CLI_TOKEN",)).out == "u-bob\n"
    (config_dir / "config.yaml").write_text(f"api:\n  token: {BOB_TOKEN}\n")
    assert cli("auth:info", "-P", "id", unset=("PLATFORMSH_CLI_TOKEN",)).out == "u-bob\n"


def test_unwritable_home_falls_back_to_temp(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = cli("auth:info", "-P", "id", env={"HOME": str(blocker / "home"), "TMPDIR": str(tmp)})
    assert result.code == 0, result
    cached = list((tmp / "platformsh-cli-tmp" / ".session").rglob("*.json"))
    assert len(cached) == 1
    assert stat.S_IMODE((tmp / "platformsh-cli-tmp").stat().st_mode) == 0o700


def test_stored_token_beats_environment_token(cli: Cli) -> None:
    result = cli(
        "auth:api-token-login",
        stdin=BOB_TOKEN + "\n",
        env={"SHELL_INTERACTIVE": "1"},
        unset=("PLATFORMSH_CLI_TOKEN",),
    )
    assert result.code == 0, result
    assert "The API token is valid." in result.err
    stored = list((cli.home / ".platformsh" / ".session" / "sess-cli-default").iterdir())
    assert [p.name.startswith("api-token-") for p in stored] == [True]
    assert stat.S_IMODE(stored[0].stat().st_mode) == 0o600
    assert cli("auth:info", "-P", "id").out == "u-bob\n"


def test_session_id_selects_another_session(cli: Cli) -> None:
    env = {"SHELL_INTERACTIVE": "1", "PLATFORMSH_CLI_SESSION_ID": "work"}
    assert (
        cli(
            "auth:api-token-login", stdin=BOB_TOKEN + "\n", env=env, unset=("PLATFORMSH_CLI_TOKEN",)
        ).code
        == 0
    )
    assert os.path.isdir(cli.home / ".platformsh" / ".session" / "sess-cli-work")
    assert cli("auth:info", "-P", "id", env=env, unset=("PLATFORMSH_CLI_TOKEN",)).out == "u-bob\n"
    default = cli("auth:info", "-P", "id", unset=("PLATFORMSH_CLI_TOKEN",))
    assert default.code == 3
