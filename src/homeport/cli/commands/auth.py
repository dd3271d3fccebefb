"""`auth:*`: account information, access tokens, logging in and out."""

from __future__ import annotations

from homeport.cli.commands.base import Command
from homeport.cli.console import VERBOSE
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INFO_KEYS = ("id", "first_name", "last_name", "username", "email", "phone_number_verified")


def _non_interactive_message() -> str:
    return (
        "Non-interactive use of this command is not supported.\n"
        "To authenticate non-interactively, configure an API token using the "
        "PLATFORMSH_CLI_TOKEN environment variable."
    )


def finalize_login(command: Command) -> None:
    """The lines printed after any successful login."""
    command.console.err(command.console.style("You are logged in.", "info"))
    try:
        me = command.api.me()
    except CliError:
        return
    if me.get("username"):
        command.console.err(f"Username: {me['username']}")
    if me.get("email"):
        command.console.err(f"Email address: {me['email']}")
    if me.get("kind") == "machine":
        command.console.err("This is a machine user.")


class AuthInfo(Command):
    """`auth:info [property]`."""

    def configure(self, d: Definition) -> None:
        d.argument("property", "The account property to view")
        d.option("property", "P", REQUIRED, "The account property to view")
        d.option("no-auto-login", "", FLAG, "Skip auto login")
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        self.add_format_options(d)
        self.add_date_option(d)

    def execute(self) -> int:
        prop = self.input.arg("property") or self.input.str_opt("property")
        auth = self.api.auth
        if self.input.opt("no-auto-login") and not auth.has_credentials():
            self.console.err("Not logged in", VERBOSE)
            return 0
        if self.input.opt("refresh"):
            auth.access_token(force_refresh=True)
        info: dict[str, Any] = dict(self.api.me())
        names = " ".join(str(info.get(k) or "") for k in ("first_name", "last_name")).strip()
        info.setdefault("display_name", names or info.get("username"))
        info.setdefault("mail", info.get("email"))
        info.setdefault("uuid", info.get("id"))
        if prop:
            if prop in ("id", "uuid") and not info.get("id"):
                raise CommandFailed("The current session is not associated with a user ID")
            self.print_property(info, str(prop))
            return 0
        self.print_properties({k: info.get(k) for k in INFO_KEYS if k in info})
        return 0


class AuthToken(Command):
    """`auth:token`: print the current access token."""

    def configure(self, d: Definition) -> None:
        d.option("header", "H", FLAG, 'Prefix the token with "Authorization: Bearer "')
        d.option("no-warn", "W", FLAG, "Suppress the warning about keeping access tokens secret")

    def execute(self) -> int:
        token = self.api.auth.access_token()
        if self.input.opt("header"):
            token = f"Authorization: Bearer {token}"
        self.console.out(token, newline=False)
        if not self.input.opt("no-warn"):
            self.console.warn("Warning: keep access tokens secret.")
        return 0


class ApiTokenLogin(Command):
    """`auth:api-token-login`: store an API token for this server."""

    def execute(self) -> int:
        from homeport.cli.auth import TokenRejected

        auth = self.api.auth
        if auth.has_config_token():
            raise CommandFailed("An API token is already set via config")
        if not self.console.interactive:
            raise CommandFailed(_non_interactive_message())

        def validate(value: str) -> str:
            if not value:
                raise CliError("The token cannot be empty")
            try:
                auth.exchange_api_token(value)
            except TokenRejected:
                raise CliError("Invalid API token") from None
            return value

        self.console.err("Please enter an API token:")
        token = self.console.ask(">", hidden=True, validator=validate)
        self.console.err(self.console.style("The API token is valid.", "info"))
        auth.logout()
        auth.store_api_token(token)
        finalize_login(self)
        return 0


class PasswordLogin(Command):
    """`auth:password-login` (alias `login`): email or username, and password."""

    def configure(self, d: Definition) -> None:
        d.option("force", "f", FLAG, "Log in again, even if already logged in")

    def execute(self) -> int:
        from homeport.cli.auth import TokenRejected

        auth = self.api.auth
        if auth.has_config_token():
            raise CommandFailed(
                "Cannot log in with a password, because an API token is set via config."
            )
        if not self.console.interactive:
            raise CommandFailed(_non_interactive_message())
        username = self.console.ask("Email address or username:")
        if not username:
            raise CommandFailed("An email address or username is required.")
        password = self.console.ask("Password:", hidden=True)
        try:
            record = auth.password_grant(username, password)
        except TokenRejected as exc:
            raise CommandFailed(
                f"Login failed: {exc.description or 'invalid email address, username or password'}"
            ) from None
        auth.logout()
        auth.save_session(record)
        finalize_login(self)
        return 0


class Logout(Command):
    """`auth:logout` (alias `logout`)."""

    def configure(self, d: Definition) -> None:
        d.option("all", "a", FLAG, "Log out from all local sessions")
        d.option("other", "", FLAG, "Log out from other local sessions")

    def execute(self) -> int:
        auth = self.api.auth
        if auth.has_config_token():
            self.console.warn("Warning: an API token is set via config")
        if self.input.opt("other"):
            others = auth.other_sessions()
            from homeport.cli.auth import SessionDir

            for session_id in others:
                SessionDir(auth.root, session_id).remove()
            self.console.err(f"Logged out of {len(others)} other session(s).")
            return 0
        for warning in auth.logout():
            self.console.warn(f"Warning: {warning}")
        if self.input.opt("all"):
            auth.remove_all_sessions()
            self.console.err("All sessions have been deleted.")
        self.console.err("You are now logged out.")
        if not self.input.opt("all") and auth.other_sessions():
            self.console.err(
                f"Other sessions exist. Log out of all sessions with: {self.exe} logout --all"
            )
        return 0
