"""Typed dependencies: the app state, a database session and the calling actor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from homeport.domain.auth import Actor, authenticate
from homeport.domain.errors import NotAuthenticated
from homeport.web.state import AppState


def get_state(request: Request) -> AppState:
    """The AppState the app was built with."""
    state: AppState = request.app.state.homeport
    return state


State = Annotated[AppState, Depends(get_state)]


def get_session(request: Request, state: State) -> Iterator[Session]:
    """A session in one transaction; writes (non-GET) take the write lock up front."""
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with state.db.session(write=write) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def bearer_token(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def get_actor(request: Request, state: State, session: DbSession) -> Actor:
    """The authenticated actor; 401 without a valid bearer token."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("Authentication is required.")
    return authenticate(session, state.auth_keys, token)


CurrentActor = Annotated[Actor, Depends(get_actor)]


def client_address(request: Request) -> str:
    """The peer address (the key of per-address rate limits)."""
    return request.client.host if request.client else "unknown"
