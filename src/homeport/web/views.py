"""Turn store rows into public shapes."""

from __future__ import annotations

from functools import lru_cache

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
    if state.settings.public_url:
        return base_url(request, state) + DEFAULT_PICTURE
    scope = request.scope
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    server = scope.get("server")
    return _picture_for(
        scope.get("scheme", "http"),
        host,
        None if server is None else tuple(server),
        scope.get("root_path", ""),
    )


@lru_cache(maxsize=64)
def _picture_for(
    scheme: str, host: bytes | None, server: tuple[str, int] | None, root_path: str
) -> str:
    # Building the request's URL costs more than the rest of GET /users/me; the few
    # (scheme, Host, server, root) a server sees are remembered (the header is bounded).
    scope: dict[str, object] = {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "root_path": root_path,
        "path": "/",
        "headers": [] if host is None else [(b"host", host)],
        "app": None,
    }
    return str(Request(scope).base_url).rstrip("/") + DEFAULT_PICTURE


def with_uris(view: UserPublic, request: Request, state: State) -> UserPublic:
    """``view`` with a URI in ``picture`` and ``website`` where it has none."""
    return view.model_copy(
        update={
            "picture": view.picture or picture_url(request, state),
            "website": view.website or NO_WEBSITE,
        }
    )


def user_view(account: Account, picture: str = "", website: str = "") -> UserPublic:
    """The ``User`` object of spec §1.5, plus ``kind`` (``with_uris`` fills in the
    URIs, or pass them here)."""
    return UserPublic(
        id=account.id,
        deactivated=account.deactivated,
        namespace="homeport",
        username=account.username,
        email=account.email,
        email_verified=True,
        first_name=account.first_name,
        last_name=account.last_name,
        picture=picture,
        company="",
        website=website,
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
