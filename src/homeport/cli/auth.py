"""Credentials: where tokens come from, how they are exchanged, and where they are cached.

Precedence (platform-cli.md §1.1): a token stored by `auth:api-token-login` beats
`PLATFORMSH_CLI_TOKEN` / `api.token`, which beats `api.token_file`; then the deprecated
`PLATFORMSH_CLI_API_TOKEN` access token; then a session from `auth:password-login`.

Access tokens obtained from an API token are cached in `<writable dir>/.session/` as
`sess-cli-api-token-<sha256(token)[:32]>/server-<sha256(api url)[:16]>.json`: the cache
is keyed on both the token and the server, and never holds the API token itself.
Files are 0600 and directories 0700.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re

from homeport.cli.errors import ApiError, CliError, LoginRequired
from homeport.cli.transport import basic_auth, form_body

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from homeport.cli.config import Config
    from homeport.cli.console import Console
    from homeport.cli.env import Environment
    from homeport.cli.transport import Transport

# Refresh a little before the server's deadline so a request never races the expiry.
EXPIRY_MARGIN = 10.0


def login_required_message(executable: str = "platform") -> str:
    """The message shown when there are no credentials at all.

    It names the API-token routes too: machine users have no password to log in with.
    """
    return "Authentication is required." + _login_routes(executable)


def _login_routes(executable: str) -> str:
    return (
        "\n\nPlease log in by running:\n"
        f"    {executable} login\n\n"
        "Alternatively, to log in using an API token (without a browser), run: "
        f"{executable} auth:api-token-login\n\n"
        "To authenticate non-interactively, configure an API token using the "
        "PLATFORMSH_CLI_TOKEN environment variable."
    )


def unauthorized_message(executable: str = "platform") -> str:
    """The message for a 401 that a fresh token did not cure."""
    return "Unauthorized." + _login_routes(executable)


class TokenRejected(CliError):
    """The token endpoint refused a grant (400/401)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description or error or "The grant was rejected.")
        self.error = error
        self.description = description


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dir_usable(path: str) -> bool:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def writable_dir(config: Config, environ: Any) -> str:
    """`~/.platformsh`, or a private temp dir when HOME is read-only (app containers)."""
    primary = config.user_config_dir
    if _dir_usable(primary):
        return primary
    tmp = str(environ.get("TMPDIR") or "/tmp")  # noqa: S108 - only a fallback location
    candidate = os.path.join(tmp, "platformsh-cli-tmp")
    uid = os.getuid() if hasattr(os, "getuid") else None
    if _dir_usable(candidate):
        stat = os.stat(candidate)
        # Never keep tokens in a directory someone else owns.
        if uid is None or stat.st_uid == uid:
            return candidate
    fallback = f"{candidate}-{uid}"
    if _dir_usable(fallback):
        return fallback
    raise CliError(f"No writable directory for the CLI's session files (tried {primary})")


def jwt_subject(token: str) -> str | None:
    """The `sub` claim of a JWT access token, if it is a JWT with a plain ID subject."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    import base64

    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except ValueError:
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if isinstance(sub, str) and re.fullmatch(r"[a-zA-Z0-9-]+", sub):
        return sub
    return None


class SessionDir:
    """One `sess-cli-<id>` directory of private JSON and text files."""

    def __init__(self, root: str, session_id: str) -> None:
        self.root = root
        self.session_id = session_id
        self.path = os.path.join(root, ".session", f"sess-cli-{session_id}")

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def read_json(self, name: str) -> dict[str, Any] | None:
        """A JSON object from the session, or None when missing or unreadable."""
        try:
            with open(self._file(name), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def read_text(self, name: str) -> str:
        """A text file from the session ('' when missing)."""
        try:
            with open(self._file(name), encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            return ""

    def write(self, name: str, content: str) -> None:
        """Write a file atomically with mode 0600 (and the directories with 0700)."""
        for directory in (os.path.join(self.root, ".session"), self.path):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        target = self._file(name)
        temp = f"{target}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, content.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(temp, target)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        """Write a JSON object."""
        self.write(name, json.dumps(data, indent=1))

    def delete(self, name: str) -> None:
        """Remove a file if present."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._file(name))

    def remove(self) -> None:
        """Remove the whole session directory."""
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)

    def exists(self) -> bool:
        """True when the directory holds at least one file."""
        try:
            return any(os.scandir(self.path))
        except OSError:
            return False


class Auth:
    """Finds credentials and turns them into a Bearer access token for the API."""

    def __init__(
        self, env: Environment, config: Config, transport: Transport, console: Console
    ) -> None:
        self.env = env
        self.config = config
        self.transport = transport
        self.console = console
        self._root: str | None = None
        self._token: str | None = None

    # Locations -----------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The writable user dir holding `.session/`."""
        if self._root is None:
            self._root = writable_dir(self.config, self.env.environ)
        return self._root

    @property
    def server_key(self) -> str:
        """A short hash of the API URL: one set of cached tokens per server."""
        return _sha256(self.config.api_url)[:16]

    def base_session(self) -> SessionDir:
        """The named session (`default`, or `PLATFORMSH_CLI_SESSION_ID`, or `session-id`)."""
        session_id = self.config.session_id
        if not session_id:
            try:
                with open(os.path.join(self.root, "session-id"), encoding="utf-8") as fh:
                    session_id = fh.read().strip()
            except OSError:
                session_id = ""
        session_id = re.sub(r"[^a-zA-Z0-9_-]", "-", session_id or "default")
        return SessionDir(self.root, session_id)

    def token_session(self, api_token: str) -> SessionDir:
        """Where access tokens exchanged from `api_token` are cached."""
        return SessionDir(self.root, "api-token-" + _sha256(api_token)[:32])

    # Sources ---------------------------------------------------------------------------

    def stored_api_token(self) -> str:
        """The token saved by `auth:api-token-login` for this server ('' when none)."""
        return self.base_session().read_text(f"api-token-{self.server_key}")

    def config_api_token(self) -> str:
        """`PLATFORMSH_CLI_TOKEN` / `api.token`, else the contents of `api.token_file`."""
        token = self.config.api_token
        if token:
            return token
        path = self.config.api_token_file
        if path:
            try:
                with open(path, encoding="utf-8") as fh:
                    return fh.read().strip()
            except OSError as exc:
                raise CliError(f"Failed to read the API token file: {path}") from exc
        return ""

    def has_config_token(self) -> bool:
        """True when a token is set by environment or config (it cannot be logged out)."""
        return bool(self.config_api_token() or self.config.access_token)

    def api_token(self) -> str:
        """The API token in force, by precedence ('' when none)."""
        return self.stored_api_token() or self.config_api_token()

    def has_credentials(self) -> bool:
        """True when some credential exists (without contacting the server)."""
        if self.api_token() or self.config.access_token:
            return True
        data = self.base_session().read_json(f"server-{self.server_key}.json") or {}
        return bool(data.get("access_token") or data.get("refresh_token"))

    # Exchanges -------------------------------------------------------------------------

    def _grant(self, fields: dict[str, str]) -> dict[str, Any]:
        resp = self.transport.request(
            "POST",
            self.config.token_url,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": basic_auth(self.config.client_id),
            },
            body=form_body(fields),
        )
        data = resp.json()
        if resp.status in (400, 401):
            error = description = ""
            if isinstance(data, dict):
                error = str(data.get("error", ""))
                description = str(
                    data.get("error_description")
                    or data.get("error_hint")
                    or data.get("message")
                    or ""
                )
            raise TokenRejected(error, description)
        if not resp.ok or not isinstance(data, dict) or not data.get("access_token"):
            raise ApiError(
                f"Unexpected answer from the token endpoint {self.config.token_url}: "
                f"HTTP {resp.status}",
                resp.status,
                data,
            )
        return data

    def _to_session(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            expires_in = float(data.get("expires_in") or 900)
        except (TypeError, ValueError):
            expires_in = 900.0
        record = {
            "api_url": self.config.api_url,
            "access_token": str(data["access_token"]),
            "token_type": str(data.get("token_type", "bearer")),
            "expires": self.env.clock() + expires_in,
        }
        if data.get("refresh_token"):
            record["refresh_token"] = str(data["refresh_token"])
        return record

    def exchange_api_token(self, api_token: str) -> dict[str, Any]:
        """Exchange an API token (`grant_type=api_token`) and cache the access token."""
        data = self._grant({"grant_type": "api_token", "api_token": api_token})
        record = self._to_session(data)
        self.token_session(api_token).write_json(f"server-{self.server_key}.json", record)
        return record

    def password_grant(self, username: str, password: str) -> dict[str, Any]:
        """Exchange a username (or email) and password for tokens (not yet saved)."""
        data = self._grant({"grant_type": "password", "username": username, "password": password})
        return self._to_session(data)

    def save_session(self, record: dict[str, Any]) -> None:
        """Make `record` (from `password_grant`) this server's login session."""
        self.base_session().write_json(f"server-{self.server_key}.json", record)
        self._token = str(record["access_token"])

    def store_api_token(self, api_token: str) -> None:
        """Save a token for `auth:api-token-login` (it then beats `PLATFORMSH_CLI_TOKEN`)."""
        self.base_session().write(f"api-token-{self.server_key}", api_token)

    def _fresh(self, record: dict[str, Any] | None) -> bool:
        if not record or not record.get("access_token"):
            return False
        if record.get("api_url") not in (None, self.config.api_url):
            return False
        try:
            return float(record.get("expires", 0)) - EXPIRY_MARGIN > self.env.clock()
        except (TypeError, ValueError):
            return False

    def access_token(self, force_refresh: bool = False) -> str:
        """A valid access token, exchanging or refreshing as needed; else `LoginRequired`."""
        if self._token and not force_refresh:
            return self._token
        exe = self.config.executable
        api_token = self.api_token()
        if api_token:
            cached = self.token_session(api_token).read_json(f"server-{self.server_key}.json")
            if not force_refresh and self._fresh(cached):
                assert cached is not None
                self._token = str(cached["access_token"])
                return self._token
            try:
                record = self.exchange_api_token(api_token)
            except TokenRejected as exc:
                self.token_session(api_token).delete(f"server-{self.server_key}.json")
                if "api token" in exc.description.lower() or exc.error == "invalid_grant":
                    self.console.err_always("The API token is invalid.")
                raise LoginRequired("Authentication is required.") from exc
            self._token = str(record["access_token"])
            return self._token
        if self.config.access_token:
            if force_refresh:
                raise LoginRequired(unauthorized_message(exe))
            self._token = self.config.access_token
            return self._token
        session = self.base_session()
        name = f"server-{self.server_key}.json"
        record_or_none = session.read_json(name)
        if not force_refresh and self._fresh(record_or_none):
            assert record_or_none is not None
            self._token = str(record_or_none["access_token"])
            return self._token
        refresh = (record_or_none or {}).get("refresh_token")
        if refresh:
            try:
                data = self._grant({"grant_type": "refresh_token", "refresh_token": str(refresh)})
            except TokenRejected as exc:
                session.delete(name)
                self.console.err_always("Your session has expired. You have been logged out.")
                raise LoginRequired(login_required_message(exe)) from exc
            record = self._to_session(data)
            if "refresh_token" not in record:
                record["refresh_token"] = str(refresh)
            session.write_json(name, record)
            self._token = str(record["access_token"])
            return self._token
        if record_or_none and record_or_none.get("access_token") and not force_refresh:
            session.delete(name)
            self.console.err_always("Your session has expired. You have been logged out.")
        raise LoginRequired(login_required_message(exe))

    def user_id(self) -> str | None:
        """The caller's user ID from the JWT `sub` claim (None for opaque tokens)."""
        return jwt_subject(self.access_token())

    # Logout ----------------------------------------------------------------------------

    def revoke(self, token: str, hint: str) -> bool:
        """Ask the server to revoke a token; failures only matter as a warning."""
        from homeport.cli.errors import ConnectionFailed

        try:
            resp = self.transport.request(
                "POST",
                self.config.revoke_url,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": basic_auth(self.config.client_id),
                },
                body=form_body({"token": token, "token_type_hint": hint}),
            )
        except ConnectionFailed:
            return False
        return resp.ok

    def logout(self) -> list[str]:
        """Revoke and forget this server's tokens; returns warnings to show."""
        warnings: list[str] = []
        name = f"server-{self.server_key}.json"
        sessions = [self.base_session()]
        for token in (self.stored_api_token(), self.config_api_token()):
            if token:
                sessions.append(self.token_session(token))
        for session in sessions:
            record = session.read_json(name) or {}
            for key, hint in (("access_token", "access_token"), ("refresh_token", "refresh_token")):
                value = record.get(key)
                if value and not self.revoke(str(value), hint):
                    warnings.append(f"Failed to revoke the {hint.replace('_', ' ')}.")
            session.delete(name)
        self.base_session().delete(f"api-token-{self.server_key}")
        self._token = None
        return warnings

    def other_sessions(self) -> list[str]:
        """Names of other named sessions holding files (API-token caches excluded)."""
        current = self.base_session().session_id
        base = os.path.join(self.root, ".session")
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            return []
        out = []
        for entry in entries:
            if not entry.startswith("sess-cli-"):
                continue
            sid = entry[len("sess-cli-") :]
            if sid == current or sid.startswith("api-token-"):
                continue
            if SessionDir(self.root, sid).exists():
                out.append(sid)
        return out

    def remove_all_sessions(self) -> None:
        """Delete every session directory (`auth:logout --all`)."""
        import shutil

        shutil.rmtree(os.path.join(self.root, ".session"), ignore_errors=True)
