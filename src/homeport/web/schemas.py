"""Request and response shapes. Public shapes never carry secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``-free ``+00:00`` offset, as Platform.sh emits."""
    return None if value is None else value.isoformat()


# ``page[size]`` of the accounts-style lists (``/projects/{id}/user-access``,
# ``/users/{id}/project-access``): the description bounds it to 1..200.
PageSize = Annotated[int | None, Query(alias="page[size]", ge=1, le=200)]


class Strict(BaseModel):
    """Request bodies: unknown fields are ignored (the JS client sends extras)."""

    model_config = ConfigDict(extra="ignore", str_max_length=65536 * 2)


class UserPublic(BaseModel):
    """``GET /users/me`` and ``/users/{id}`` (spec §1.5 plus ``kind``)."""

    id: str
    deactivated: bool
    namespace: str
    username: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    picture: str
    company: str
    website: str
    country: str
    created_at: str
    updated_at: str
    phone_number_verified: bool
    mfa_enabled: bool
    sso_enabled: bool
    kind: Literal["human", "machine"]
    is_platform_admin: bool


class ApiTokenPublic(BaseModel):
    """An API token as listed: never the token itself."""

    id: str
    name: str
    mfa_on_creation: bool
    created_at: str
    updated_at: str
    last_used_at: str | None
    expires_at: str | None
    token_hint: str


class ApiTokenCreated(ApiTokenPublic):
    """The one response that carries ``token``."""

    token: str


class ApiTokenCreate(Strict):
    """``POST /users/{id}/api-tokens``."""

    name: str = Field(min_length=1, max_length=256)
    expires_at: datetime | None = None
    expires_in: int | None = Field(default=None, description="Days until expiry (extension)")


class SshKeyPublic(BaseModel):
    """An SSH key as Platform.sh shows it."""

    key_id: int
    uid: int = 0
    fingerprint: str
    title: str
    value: str
    changed: str


class SshKeyCreate(Strict):
    """``POST /ssh_keys``."""

    value: str = Field(max_length=16384)
    title: str | None = Field(default=None, max_length=256)
    uuid: str | None = None
