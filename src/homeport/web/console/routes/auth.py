"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from homeport.domain import auth
from homeport.domain.errors import TooManyAttempts
from homeport.web.console.deps import (
    HOME_PATH,
    ConsoleRoute,
    console_of,
    cookie_session,
    render,
    safe_next,
    see_other,
)
from homeport.web.console.views import clear_session_cookie, set_session_cookie
from homeport.web.deps import State, client_address

router = APIRouter(route_class=ConsoleRoute)


@router.get("/")
def console_home() -> Response:
    """The console's front page is the project list (which asks for sign-in if needed)."""
    return see_other(HOME_PATH)


def _login_page(
    request: Request,
    status: int = 200,
    error: str | None = None,
    login: str = "",
    retry_after: int | None = None,
    next_path: str | None = None,
) -> Response:
    # The sign-in form needs a CSRF token before there is an account: a visitor session
    # carries it (and signing in replaces that session, so it cannot be fixed upfront).
    current = cookie_session(request)
    fresh = current is None
    session = current if current is not None else console_of(request).codec.anonymous()
    return render(
        request,
        "console/login.html",
        None,
        status=status,
        cookie=session if fresh else None,
        csrf_token=session.csrf,
        error=error,
        login=login,
        next=safe_next(next_path or request.query_params.get("next")),
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


@router.get("/login")
def login_form(request: Request) -> Response:
    """The sign-in form."""
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    state: State,
    login: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Check the password, rate limited exactly like the token endpoint's password grant."""
    try:
        # A read-only transaction: argon2 takes tens of milliseconds, and nobody else's
        # write should wait for it.
        with state.db.session() as session:
            account = auth.check_password(
                session, state.limiter, login, password, client_address(request)
            )
            account_id, password_hash = account.id, account.password_hash
    except auth.InvalidGrant:
        return _login_page(
            request,
            401,
            "The email or username and password do not match an active account.",
            login,
            next_path=next,
        )
    except TooManyAttempts as exc:
        return _login_page(
            request,
            429,
            f"Too many failed attempts. Try again in {exc.retry_after} seconds.",
            login,
            exc.retry_after,
            next_path=next,
        )
    codec = console_of(request).codec
    response = see_other(safe_next(next))
    set_session_cookie(
        response, request, state.settings, codec.dumps(codec.sign_in(account_id, password_hash))
    )
    return response


@router.post("/logout")
def logout(request: Request, state: State) -> Response:
    """Forget the session cookie (it was checked by its CSRF token like every POST)."""
    response = see_other("/console/login?done=signed-out")
    clear_session_cookie(response, request, state.settings)
    return response
