"""Domain errors; the web layer maps each to an HTTP status and error body."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``message`` is safe to show to the caller."""

    status = 400
    title = "Bad Request"

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class Invalid(DomainError):
    """Input that fails validation; ``detail`` names the fields."""

    status = 400
    title = "Bad Request"

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        """An error about one field."""
        return cls(message, {name: [message]})


class NotAuthenticated(DomainError):
    """No valid credentials."""

    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    """Authenticated, but the policy says no."""

    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    """No such thing (or the caller may not know it exists)."""

    status = 404
    title = "Not Found"


class Conflict(DomainError):
    """The thing exists already or the state does not allow the change."""

    status = 409
    title = "Conflict"


class TooManyAttempts(DomainError):
    """Rate limited; ``retry_after`` is in seconds."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
