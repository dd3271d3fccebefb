"""Configuration loading (`homeport.cli.config`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.cli.config import Config
from homeport.cli.errors import InvalidConfig


def load(environ: dict[str, str]) -> Config:
    return Config.load(environ)


def test_defaults(tmp_path: Path) -> None:
    config = load({"HOME": str(tmp_path)})
    assert config.api_url == "http://127.0.0.1:8000"
    assert config.auth_url == config.api_url
    assert config.token_url == "http://127.0.0.1:8000/oauth2/token"
    assert config.revoke_url == "http://127.0.0.1:8000/oauth2/revoke"
    assert config.client_id == "platform-cli"
    assert config.timeout == 30.0
    assert config.api_token == ""


def test_explicit_and_generic_variables(tmp_path: Path) -> None:
    config = load(
        {
            "HOME": str(tmp_path),
            "PLATFORMSH_CLI_API_BASE_URL": "http://generic:1/",
            "PLATFORMSH_CLI_API_AUTH_URL": "http://auth:2",
            "PLATFORMSH_CLI_TOKEN": " tok ",
            "PLATFORMSH_CLI_SKIP_SSL": "1",
            "PLATFORMSH_CLI_DEFAULT_TIMEOUT": "5",
        }
    )
    assert config.api_url == "http://generic:1"
    assert config.token_url == "http://auth:2/oauth2/token"
    assert config.api_token == "tok"
    assert config.skip_ssl is True
    assert config.timeout == 5.0
    explicit = load(
        {
            "HOME": str(tmp_path),
            "PLATFORMSH_CLI_API_URL": "http://a:3",
            "PLATFORMSH_CLI_AUTH_URL": "http://b:4",
        }
    )
    assert (explicit.api_url, explicit.auth_url) == ("http://a:3", "http://b:4")


def test_booleans_need_zero_or_one(tmp_path: Path) -> None:
    assert load({"HOME": str(tmp_path), "PLATFORMSH_CLI_SKIP_SSL": "0"}).skip_ssl is False
    # Like the PHP CLI, "false" is just a (truthy) string.
    assert load({"HOME": str(tmp_path), "PLATFORMSH_CLI_SKIP_SSL": "false"}).skip_ssl is True


def test_user_config_file_and_home_override(tmp_path: Path) -> None:
    home = tmp_path / "cli-home"
    (home / ".platformsh").mkdir(parents=True)
    (home / ".platformsh" / "config.yaml").write_text(
        "api:\n  base_url: http://from-file:7\n  token_file: token.txt\n"
    )
    config = load({"HOME": str(tmp_path), "PLATFORMSH_CLI_HOME": str(home)})
    assert config.api_url == "http://from-file:7"
    assert config.api_token_file == str(home / ".platformsh" / "token.txt")
    # Environment variables beat the file.
    overridden = load({"PLATFORMSH_CLI_HOME": str(home), "PLATFORMSH_CLI_API_URL": "http://env:8"})
    assert overridden.api_url == "http://env:8"


def test_cli_config_file_then_user_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("application:\n  date_format: Y-m-d\nservice:\n  name: Acme\n")
    config = load({"HOME": str(tmp_path), "CLI_CONFIG_FILE": str(extra)})
    assert config.date_format == "Y-m-d"
    assert config.service_name == "Acme"


def test_broken_config_file_is_exit_4(tmp_path: Path) -> None:
    (tmp_path / ".platformsh").mkdir()
    (tmp_path / ".platformsh" / "config.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InvalidConfig) as info:
        load({"HOME": str(tmp_path)})
    assert info.value.exit_code == 4
