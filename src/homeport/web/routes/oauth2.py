"""The OAuth2 token and revocation endpoints (``/oauth2/token``, ``/oauth2/revoke``)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from homeport.domain import auth
from homeport.domain.errors import TooManyAttempts
from homeport.web.deps import State, client_address
from homeport.web.metrics import NamedRoute, token_exchange
from homeport.web.state import AppState
from homeport.web.write_gate import WriteQueueTimeout

router = APIRouter(prefix="/oauth2", tags=["OAuth2"])

MAX_BODY = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str, **headers: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(
        json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **_NO_STORE, **headers},
    )


async def _read_params(request: Request) -> dict[str, str] | None:
    """Form (the PHP CLI) or JSON (the JS client) body as a flat dict; None if unreadable."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
        try:
            data: Any = json.loads(text or "{}")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _client_id(request: Request, params: dict[str, str]) -> str:
    """The client id from a Basic header or the body; absent is allowed."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client = decoded.partition(":")[0]
        if client:
            return client
    return params.get("client_id", "")


async def token(request: Request) -> Response:
    """``grant_type=api_token`` or ``grant_type=password``; answers an access token.

    Every CI job starts here, so ``app.py`` serves it as a plain Starlette route, ahead
    of FastAPI's dependency solving; the APIRoute below documents it.
    """
    grant, response = await _token(request, request.app.state.homeport)
    # Counted by grant type and outcome: "success" or the OAuth2 error code.
    outcome = "success"
    if response.status_code != 200:
        try:
            outcome = str(json.loads(bytes(response.body))["error"])
        except (ValueError, KeyError, TypeError):
            outcome = "error"
    token_exchange(grant, outcome)
    return response


async def _token(request: Request, state: AppState) -> tuple[str, Response]:
    params = await _read_params(request)
    if params is None:
        return "", _oauth_error(400, "invalid_request", "The request body could not be read.")
    grant = params.get("grant_type", "")
    client = _client_id(request, params)
    address = client_address(request)
    ttl = state.settings.access_token_ttl

    def exchange() -> auth.IssuedToken:
        with state.db.session(write=True) as session:
            return auth.exchange_api_token(
                session,
                state.auth_keys,
                state.limiter,
                params.get("api_token", ""),
                client,
                address,
                ttl,
            )

    def check_password() -> str:
        # argon2 takes a while: it runs in a read transaction, outside the writer queue.
        with state.db.session() as session:
            return auth.check_password(
                session,
                state.limiter,
                params.get("username", ""),
                params.get("password", ""),
                address,
            ).id

    def issue(account_id: str) -> auth.IssuedToken:
        with state.db.session(write=True) as session:
            return auth.issue_for_login(session, state.auth_keys, account_id, client, ttl)

    if grant not in ("api_token", "password"):
        return grant, _oauth_error(
            400, "unsupported_grant_type", f"Unsupported grant type: {grant!r}"
        )
    if grant == "api_token" and not params.get("api_token"):
        return grant, _oauth_error(400, "invalid_request", "The api_token parameter is required.")
    try:
        # Writes wait for their turn on the event loop, like the API's (see write_gate).
        if grant == "api_token":
            async with state.write_gate.turn():
                issued = await run_in_threadpool(exchange)
        else:
            account_id = await run_in_threadpool(check_password)
            async with state.write_gate.turn():
                issued = await run_in_threadpool(issue, account_id)
    except auth.InvalidGrant as exc:
        return grant, _oauth_error(400, "invalid_grant", exc.description)
    except TooManyAttempts as exc:
        return grant, _oauth_error(
            429, "too_many_requests", exc.message, **{"Retry-After": str(exc.retry_after)}
        )
    except WriteQueueTimeout:
        return grant, _oauth_error(
            503, "temporarily_unavailable", "The server is busy; try again.", **{"Retry-After": "1"}
        )
    body = {
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "bearer",
    }
    return grant, JSONResponse(body, headers=_NO_STORE)


hot_route = NamedRoute("/oauth2/token", token, methods=["POST"])
router.add_api_route(
    "/token",
    token,
    methods=["POST"],
    summary="Exchange an API token or a password for an access token",
)


@router.post("/revoke", summary="Revoke an access token")
async def revoke(request: Request, state: State) -> Response:
    """RFC 7009: always 200, whether or not the token was known."""
    params = await _read_params(request)
    if params is None:
        return _oauth_error(400, "invalid_request", "The request body could not be read.")

    def run() -> None:
        with state.db.session(write=True) as session:
            auth.revoke(session, state.auth_keys, params.get("token", ""))

    await run_in_threadpool(run)
    return Response(status_code=200, headers=_NO_STORE)
