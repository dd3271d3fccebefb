"""Exit statuses, as documented for the Platform.sh CLI (platform-cli.md §5.1)."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit statuses. Scripts test these, so the numbers never change."""

    OK = 0
    # Generic failure: "not found", empty lists, refused confirmations, bad options.
    GENERAL = 1
    # The project could not be determined (Symfony's RootNotFoundException).
    ROOT_NOT_FOUND = 2
    LOGIN_REQUIRED = 3
    INVALID_CONFIG = 4
    CONNECTION_FAILED = 5
    PERMISSION_DENIED = 6
    PROJECT_NOT_FOUND = 9
