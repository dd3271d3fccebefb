"""Test helpers: an API wrapper that records responses, and account factories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

from homeport.domain import access, accounts, api_tokens
from homeport.store.db import Database
from homeport.store.models import Account
from homeport.web.state import AppState


class Api:
    """TestClient plus helpers; every response body is kept in ``seen`` for leak checks."""

    def __init__(self, client: TestClient, state: AppState) -> None:
        self.client = client
        self.state = state
        self.seen: list[str] = []

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Call the API as ``token`` (None: anonymous)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        self.seen.append(response.text)
        return response

    def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """GET ``path``."""
        return self.request("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """POST ``path``."""
        return self.request("POST", path, token, **kw)

    def patch(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """PATCH ``path``."""
        return self.request("PATCH", path, token, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, token, **kw)

    def create_account(
        self,
        email: str,
        *,
        kind: str = "human",
        admin: bool = False,
        password: str | None = None,
        created_by: str | None = None,
    ) -> Account:
        """Create an account straight in the store, as the operator's command does
        (pending invitations it may claim apply at once)."""
        with self.state.db.session(write=True) as session:
            account = accounts.create_account(
                session,
                accounts.NewAccount(
                    email=email,
                    kind=kind,
                    is_admin=admin,
                    password=password,
                    created_by_id=created_by,
                ),
            )
            access.apply_pending_invitations(session, account)
            return account

    def api_token(self, account_id: str, name: str = "test") -> str:
        """A new API token for the account (plain text)."""
        with self.state.db.session(write=True) as session:
            account = accounts.get_account(session, account_id)
            return api_tokens.create_token(
                session, self.state.auth_keys.token_hash, account, name
            ).plain

    def exchange(self, api_token: str) -> httpx.Response:
        """POST /oauth2/token the way the PHP CLI does."""
        response: httpx.Response = self.client.post(
            "/oauth2/token",
            data={"grant_type": "api_token", "api_token": api_token},
            auth=("platform-cli", ""),
        )
        return response

    def access_token(self, api_token: str) -> str:
        """Exchange an API token and return the access token."""
        response = self.exchange(api_token)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def login_new(self, email: str, *, kind: str = "human", admin: bool = False) -> str:
        """Create an account and return an access token for it."""
        account = self.create_account(email, kind=kind, admin=admin)
        return self.access_token(self.api_token(account.id))

    def me(self, token: str) -> dict[str, Any]:
        """``GET /users/me`` as ``token``."""
        response = self.get("/users/me", token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a Platform.sh error body with ``status``; returns it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "message", "code", "detail", "title"}, body
    assert body["code"] == status
    return body


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``db`` meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
