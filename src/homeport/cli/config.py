"""Client configuration: built-in defaults, YAML files, then `PLATFORMSH_CLI_*` variables.

The load order follows the PHP CLI (platform-cli.md §2): defaults, the file named by
`CLI_CONFIG_FILE`, the user file `~/.platformsh/config.yaml` (merged recursively),
environment variables, then the dynamic URL defaults derived from the API URL.
"""

from __future__ import annotations

import os

from homeport.cli.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_API_URL = "http://127.0.0.1:8000"
ENV_PREFIX = "PLATFORMSH_CLI_"


def _defaults() -> dict[str, dict[str, Any]]:
    return {
        "application": {
            "name": "Homeport CLI",
            "slug": "platformsh-cli",
            "executable": "platform",
            "user_config_dir": ".platformsh",
            "date_format": "c",
            "timezone": None,
        },
        "api": {
            "base_url": DEFAULT_API_URL,
            "auth_url": None,
            "oauth2_client_id": "platform-cli",
            "token": None,
            "token_file": None,
            "access_token": None,
            "default_timeout": 30,
            "skip_ssl": False,
            "debug": False,
            "disable_cache": False,
            "session_id": None,
            "user_agent": None,
        },
        "service": {
            "name": "Homeport",
            "env_prefix": "PLATFORM_",
            "project_config_dir": ".platform",
        },
        "detection": {"git_remote_name": "platform"},
    }


# Explicit variable names (without the prefix) and the keys they set; platform-cli.md §2.4.
_EXPLICIT = {
    "TOKEN": "api.token",
    "API_TOKEN": "api.access_token",
    "API_URL": "api.base_url",
    "AUTH_URL": "api.auth_url",
    "OAUTH2_AUTH_URL": "api.oauth2_auth_url",
    "OAUTH2_TOKEN_URL": "api.oauth2_token_url",
    "OAUTH2_REVOKE_URL": "api.oauth2_revoke_url",
    "OAUTH2_CLIENT_ID": "api.oauth2_client_id",
    "DEFAULT_TIMEOUT": "api.default_timeout",
    "SKIP_SSL": "api.skip_ssl",
    "DEBUG": "api.debug",
    "DISABLE_CACHE": "api.disable_cache",
    "SESSION_ID": "api.session_id",
    "USER_AGENT": "api.user_agent",
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _cast(current: Any, raw: str) -> Any:
    """Cast an environment string to the type of the value it replaces."""
    if isinstance(current, bool):
        # The PHP CLI takes 0/1 for booleans; any other string stays a (truthy) string.
        if raw in ("0", ""):
            return False
        if raw == "1":
            return True
        return raw
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def home_dir(environ: Any) -> str:
    """The user's home: `PLATFORMSH_CLI_HOME`, then `HOME`, then `USERPROFILE`."""
    for name in (ENV_PREFIX + "HOME", "HOME", "USERPROFILE"):
        value = environ.get(name, "")
        if value:
            return str(value)
    return os.path.expanduser("~")


class Config:
    """The merged configuration tree, with typed accessors for what the client uses."""

    def __init__(self, data: dict[str, dict[str, Any]], environ: Any, home: str) -> None:
        self.data = data
        self.environ = environ
        self.home = home

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> Config:
        """Build the configuration for the process environment `environ` (files are
        read only when present)."""
        data = _defaults()
        home = home_dir(environ)
        files = []
        if environ.get("CLI_CONFIG_FILE"):
            files.append(environ["CLI_CONFIG_FILE"])
        files.append(os.path.join(home, data["application"]["user_config_dir"], "config.yaml"))
        for path in files:
            if os.path.isfile(path):
                _merge(data, cls._read_file(path))
        # Generic overrides: PREFIX + SECTION_KEY for each scalar key already present.
        for section, values in data.items():
            if not isinstance(values, dict):
                continue
            for key, current in list(values.items()):
                if isinstance(current, dict | list):
                    continue
                suffix = f"{section}_{key}".upper()
                # Explicit names win: API_TOKEN is the deprecated access token, not api.token.
                if suffix in _EXPLICIT:
                    continue
                name = ENV_PREFIX + suffix
                if name in environ:
                    values[key] = _cast(current, environ[name])
        for suffix, dotted in _EXPLICIT.items():
            name = ENV_PREFIX + suffix
            if name in environ:
                section, key = dotted.split(".", 1)
                data.setdefault(section, {})
                data[section][key] = _cast(data[section].get(key), environ[name])
        return cls(data, environ, home)

    @staticmethod
    def _read_file(path: str) -> dict[str, Any]:
        from homeport.cli.miniyaml import YamlError, loads

        try:
            with open(path, encoding="utf-8") as fh:
                parsed = loads(fh.read())
        except (OSError, YamlError, UnicodeDecodeError) as exc:
            raise InvalidConfig(f"Failed to read the configuration file {path}: {exc}") from exc
        if parsed is None:
            return {}
        if not isinstance(parsed, dict):
            raise InvalidConfig(f"The configuration file {path} must contain a mapping")
        return parsed

    def get(self, dotted: str, default: Any = None) -> Any:
        """A value by `section.key`, or `default`."""
        section, _, key = dotted.partition(".")
        values = self.data.get(section)
        if not isinstance(values, dict):
            return default
        value = values.get(key, default)
        return default if value is None else value

    def _url(self, dotted: str, default: str) -> str:
        value = self.get(dotted)
        return (str(value) if value else default).rstrip("/")

    @property
    def api_url(self) -> str:
        """The API base URL (`api.base_url`)."""
        return self._url("api.base_url", DEFAULT_API_URL)

    @property
    def auth_url(self) -> str:
        """The OAuth2 server's base URL; defaults to the API URL (Homeport serves both)."""
        return self._url("api.auth_url", self.api_url)

    @property
    def token_url(self) -> str:
        """Where API tokens, passwords and refresh tokens are exchanged."""
        return self._url("api.oauth2_token_url", self.auth_url + "/oauth2/token")

    @property
    def revoke_url(self) -> str:
        """Where tokens are revoked on logout."""
        return self._url("api.oauth2_revoke_url", self.auth_url + "/oauth2/revoke")

    @property
    def client_id(self) -> str:
        """The OAuth2 client ID sent with HTTP Basic and an empty secret."""
        return str(self.get("api.oauth2_client_id", "platform-cli"))

    @property
    def timeout(self) -> float:
        """Seconds to wait for an API answer."""
        try:
            return float(self.get("api.default_timeout", 30))
        except (TypeError, ValueError):
            return 30.0

    @property
    def skip_ssl(self) -> bool:
        """True to accept self-signed HTTPS certificates."""
        return bool(self.get("api.skip_ssl", False))

    @property
    def api_token(self) -> str:
        """`api.token` from the environment or the config file, trimmed ('' when unset)."""
        return str(self.get("api.token", "") or "").strip()

    @property
    def api_token_file(self) -> str:
        """`api.token_file`, resolved relative to the user config dir ('' when unset)."""
        value = str(self.get("api.token_file", "") or "")
        if not value:
            return ""
        if os.path.isabs(value):
            return value
        return os.path.join(self.user_config_dir, value)

    @property
    def access_token(self) -> str:
        """`PLATFORMSH_CLI_API_TOKEN` (deprecated): used as a Bearer token, never exchanged."""
        return str(self.get("api.access_token", "") or "").strip()

    @property
    def user_config_dir(self) -> str:
        """`~/.platformsh` (under `PLATFORMSH_CLI_HOME` when set)."""
        return os.path.join(self.home, str(self.get("application.user_config_dir")))

    @property
    def session_id(self) -> str:
        """The named session: `PLATFORMSH_CLI_SESSION_ID`, else '' (resolved later)."""
        return str(self.get("api.session_id", "") or "")

    @property
    def date_format(self) -> str:
        """The default `--date-fmt` (PHP `date()` syntax)."""
        return str(self.get("application.date_format", "c"))

    @property
    def timezone(self) -> str:
        """`application.timezone`, else the `TZ` variable, else '' (the system zone)."""
        return str(self.get("application.timezone", "") or self.environ.get("TZ", "") or "")

    @property
    def service_name(self) -> str:
        """What the service is called in messages ("your Homeport account")."""
        return str(self.get("service.name", "Homeport"))

    @property
    def executable(self) -> str:
        """The command name shown in hints."""
        return str(self.get("application.executable", "platform"))

    @property
    def env_prefix(self) -> str:
        """The prefix of the variables the platform sets in apps (`PLATFORM_`)."""
        return str(self.get("service.env_prefix", "PLATFORM_"))

    @property
    def user_agent(self) -> str:
        """The User-Agent header."""
        value = self.get("api.user_agent")
        if value:
            return str(value)
        from homeport import __version__

        return f"homeport-cli/{__version__}"
