"""Turn store rows into public shapes."""

from __future__ import annotations

from fastapi import Request

from homeport.store.models import Account, ApiToken, SshKey
from homeport.web.console.views import STATIC_URL
from homeport.web.deps import State
from homeport.web.project_deps import base_url
from homeport.web.schemas import ApiTokenPublic, SshKeyPublic, UserPublic, iso

# ``picture`` and ``website`` are required URIs in the description (never null, never
# ""): a picture-less account shows the server's own logo, as Platform.sh shows its
# default, and a website-less one "about:blank" (RFC 6694, "no content").
DEFAULT_PICTURE = STATIC_URL + "/favicon.svg"
NO_WEBSITE = "about:blank"


def picture_url(request: Request, state: State) -> str:
    """The absolute URL of the default picture."""
    return base_url(request, state) + DEFAULT_PICTURE


def with_uris(view: UserPublic, request: Request, state: State) -> UserPublic:
    """``view`` with a URI in ``picture`` and ``website`` where it has none."""
    return view.model_copy(
        update={
            "picture": view.picture or picture_url(request, state),
            "website": view.website or NO_WEBSITE,
        }
    )


def user_view(account: Account) -> UserPublic:
    """The ``User`` object of spec §1.5, plus ``kind``."""
    return UserPublic(
        id=account.id,
        deactivated=account.deactivated,
        namespace="homeport",
        username=account.username,
        email=account.email,
        email_verified=True,
        first_name=account.first_name,
        last_name=account.last_name,
        picture="",
        company="",
        website="",
        country="ZZ",  # ISO 3166 user-assigned code: unknown
        created_at=iso(account.created_at) or "",
        updated_at=iso(account.updated_at) or "",
        phone_number_verified=False,
        mfa_enabled=False,
        sso_enabled=False,
        kind="machine" if account.kind == "machine" else "human",
        is_platform_admin=account.is_admin,
    )


def token_fields(row: ApiToken) -> dict[str, object]:
    """The public fields of a token row."""
    return {
        "id": row.id,
        "name": row.name,
        "mfa_on_creation": row.mfa_on_creation,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
        "token_hint": row.token_hint,
    }


def token_view(row: ApiToken) -> ApiTokenPublic:
    """A token as listed."""
    return ApiTokenPublic.model_validate(token_fields(row))


def ssh_key_view(row: SshKey) -> SshKeyPublic:
    """A key as ``/ssh_keys`` and ``/me`` show it."""
    return SshKeyPublic(
        key_id=row.key_id,
        fingerprint=row.fingerprint,
        title=row.title,
        value=row.value,
        changed=iso(row.changed) or "",
    )
