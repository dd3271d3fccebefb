"""Typed dependencies: the app state, a database session and the calling actor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from homeport.domain.activities import PENDING_ACTIVITY_KEY
from homeport.domain.auth import Actor
from homeport.domain.errors import NotAuthenticated
from homeport.logformat import bind as bind_log_context
from homeport.web.prevalidate import validate_body_first
from homeport.web.state import AppState


async def get_state(request: Request) -> AppState:
    """The AppState the app was built with."""
    state: AppState = request.app.state.homeport
    return state


State = Annotated[AppState, Depends(get_state)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request, state: State) -> AsyncIterator[Session]:
    """A session in one transaction; writes (non-GET) hold the writer turn throughout.

    A writer first waits for its turn on the event loop (``WriteGate``), holding no
    thread, and only then opens its transaction in a worker thread; so a burst of
    writers queues instead of filling the thread pool. The transaction commits when the
    route function returns, before the response is sent (``scope="function"``), so a
    client never sees an answer for an uncommitted change. New pending activities then
    wake the in-process worker.
    """
    if request.method in SAFE_METHODS:
        session = state.db.read_session()
        try:
            yield session
            await _off_loop(state, session.commit)
        finally:
            await _off_loop(state, session.close)
        return
    await validate_body_first(request)
    async with state.write_gate.turn():
        session = await run_in_threadpool(state.db.begin_write)
        try:
            yield session
        except BaseException:
            await run_in_threadpool(state.db.end_write, session, False)
            raise
        woke = session.info.get(PENDING_ACTIVITY_KEY, False)
        await run_in_threadpool(state.db.end_write, session, True)
    if woke:
        state.wake_worker()


async def _off_loop(state: AppState, fn: Callable[[], None]) -> None:
    """Run quick SQLite calls inline (microseconds under WAL); others in a thread."""
    if state.db.is_sqlite:
        fn()
    else:
        await run_in_threadpool(fn)


DbSession = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def get_actor(request: Request) -> Actor:
    """The authenticated actor; 401 without a valid bearer token.

    Every API call passes here, so it costs as little as it can: no sub-dependency
    (the state is read straight off the app), a cached check of the token while no
    credential was revoked anywhere (``GrantCache``), and no thread-pool hop on SQLite,
    whose reads under WAL never wait for writers and take microseconds; other
    databases are asked from a worker thread.
    """
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("Authentication is required.")
    state: AppState = request.app.state.homeport
    cache, keys = state.grant_cache, state.auth_keys
    if state.db.is_sqlite:
        actor = cache.authenticate(keys, token)
    else:
        actor = await run_in_threadpool(cache.authenticate, keys, token)
    # The request's later log lines (and its access line) name the caller.
    bind_log_context(account_id=actor.account.id)
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


def client_address(request: Request) -> str:
    """The peer address (the key of per-address rate limits)."""
    return request.client.host if request.client else "unknown"
