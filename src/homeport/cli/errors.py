"""Exceptions that end a command with a message and an exit status.

`CliError` subclasses are rendered by the application as a Symfony-style block on
stderr, headed by the PHP exception name scripts and people are used to seeing.
`CommandFailed` is the quiet kind: one plain line on stderr, like the PHP commands
that write a message and return 1.
"""

from __future__ import annotations

from homeport.cli.exitcodes import ExitCode


class CliError(Exception):
    """An error for the user; `exit_code` becomes the process status."""

    title = "RuntimeException"
    exit_code: int = ExitCode.GENERAL
    # True when the command's usage line helps (bad options and arguments).
    show_usage = False
    # True for plain one-line messages without the [Title] block.
    plain = False

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class CommandFailed(CliError):
    """A plain message on stderr and exit 1 (or the given status)."""

    plain = True


class InvalidArgument(CliError):
    """Bad options or arguments: the message, then the command's usage."""

    title = "InvalidArgumentException"
    show_usage = True


class MissingValue(CliError):
    """A required form field was not given in non-interactive mode."""

    title = "MissingValueException"


class CommandNotFound(CliError):
    """Unknown or ambiguous command name."""

    title = "CommandNotFoundException"


class LoginRequired(CliError):
    """No usable credentials: exit 3."""

    title = "LoginRequiredException"
    exit_code = ExitCode.LOGIN_REQUIRED


class ConnectionFailed(CliError):
    """The server could not be reached: exit 5."""

    title = "ConnectionFailedException"
    exit_code = ExitCode.CONNECTION_FAILED


class PermissionDenied(CliError):
    """The server answered 403: exit 6."""

    title = "PermissionDeniedException"
    exit_code = ExitCode.PERMISSION_DENIED


class RootNotFound(CliError):
    """The project could not be determined: exit 2."""

    title = "RootNotFoundException"
    exit_code = ExitCode.ROOT_NOT_FOUND


class InvalidConfig(CliError):
    """The configuration is unusable: exit 4."""

    title = "InvalidConfigException"
    exit_code = ExitCode.INVALID_CONFIG


class ApiError(CliError):
    """The API answered with an error status the command did not expect."""

    title = "ApiResponseException"

    def __init__(self, message: str, status: int, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
