"""What every console route shares: the signed-in person, the project they look at,
page rendering, and a route class that turns refusals into readable pages."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from homeport.domain.errors import DomainError, NotFound
from homeport.domain.policy import load_grants
from homeport.domain.projects import get_project
from homeport.logformat import bind as bind_log_context
from homeport.store.models import Account
from homeport.web.console import csrf
from homeport.web.console.sessions import COOKIE_NAME, ConsoleSession, SessionCodec
from homeport.web.console.views import html_page, notice_for, set_session_cookie
from homeport.web.deps import DbSession, State
from homeport.web.project_deps import ProjectContext, base_url

log = logging.getLogger("homeport.console")

LOGIN_PATH = "/console/login"
HOME_PATH = "/console/projects"


@dataclass
class ConsoleState:
    """Built once per app: the session codec and the templates."""

    codec: SessionCodec
    templates: jinja2.Environment


def console_of(request: Request) -> ConsoleState:
    """The console state of the app serving ``request``."""
    console: ConsoleState = request.app.state.console
    return console


Console = Annotated[ConsoleState, Depends(console_of)]


class LoginRequired(Exception):
    """No valid session: the person is sent to the sign-in page."""


@dataclass
class Person:
    """The signed-in account and its session, loaded in this request's transaction."""

    account: Account
    session: ConsoleSession

    @property
    def csrf(self) -> str:
        """The CSRF token every form of this session carries."""
        return self.session.csrf


def cookie_session(request: Request) -> ConsoleSession | None:
    """The session the cookie carries, if it is genuine and fresh."""
    return console_of(request).codec.loads(request.cookies.get(COOKIE_NAME))


def current_person(request: Request, session: DbSession) -> Person:
    """The signed-in person; the account is re-read on every request, so a deactivation
    or a password change takes effect at once."""
    data = cookie_session(request)
    if data is None or data.account_id is None:
        raise LoginRequired()
    account = session.get(Account, data.account_id)
    if account is None or account.deactivated:
        raise LoginRequired()
    mark = console_of(request).codec.password_mark(account.password_hash)
    if not hmac.compare_digest(mark, data.password_mark):
        raise LoginRequired()
    bind_log_context(account_id=account.id)
    return Person(account, data)


Me = Annotated[Person, Depends(current_person)]


def console_project(
    project_id: str, request: Request, person: Me, session: DbSession, state: State
) -> ProjectContext:
    """The project of the path, as the API resolves it: 404 for non-members."""
    project = get_project(session, project_id)
    grants = load_grants(session, person.account, project)
    if not grants.can_project("view"):
        raise NotFound("Project not found.")
    ssh = state.settings.ssh_bind
    return ProjectContext(project, grants, base_url(request, state), ssh[1] if ssh else None)


ProjectPage = Annotated[ProjectContext, Depends(console_project)]


def render(
    request: Request,
    template: str,
    person: Person | None,
    /,
    status: int = 200,
    cookie: ConsoleSession | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a console page; ``cookie`` replaces the session cookie in the response."""
    csrf_token = context.pop("csrf_token", person.csrf if person else "")
    full = {
        "person": person,
        "csrf_token": csrf_token,
        "csrf_field": csrf.FIELD,
        "notice": notice_for(request),
        "path": request.url.path,
        **context,
    }
    response = html_page(console_of(request).templates, template, full, status, headers)
    if cookie is not None:
        state = request.app.state.homeport
        set_session_cookie(
            response, request, state.settings, console_of(request).codec.dumps(cookie)
        )
    return response


def see_other(path: str) -> RedirectResponse:
    """The redirect after a successful form (POST, then GET: a reload repeats nothing)."""
    return RedirectResponse(path, status_code=303)


def person_if_signed_in(request: Request) -> Person | None:
    """The signed-in person for a page rendered outside a route's dependencies (error
    pages), or None: no session, or the database cannot say."""
    if cookie_session(request) is None:
        return None
    state = request.app.state.homeport
    session = state.db.read_session()
    try:
        person = current_person(request, session)
        session.expunge(person.account)  # its columns are loaded; it outlives the session
        return person
    except LoginRequired:
        return None
    except Exception:
        log.exception("could not load the signed-in person for an error page")
        return None
    finally:
        session.close()


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A readable error page; the header keeps the navigation for a signed-in person."""
    titles = {
        400: "That did not work",
        401: "Sign in needed",
        403: "Not allowed",
        404: "Not found",
        409: "Not possible right now",
        429: "Too many attempts",
    }
    return render(
        request,
        "console/error.html",
        person_if_signed_in(request),
        status=status,
        title=titles.get(status, "Something went wrong"),
        message=message,
        status_code=status,
    )


def login_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back here afterwards (for pages, not form posts)."""
    target = LOGIN_PATH
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(here, safe="")
    return see_other(target)


def safe_next(raw: str | None) -> str:
    """A console path to go to after sign-in; anything else (other sites) goes home."""
    if raw and raw.startswith("/console/") and "\\" not in raw and "//" not in raw:
        return raw
    return HOME_PATH


class ConsoleRoute(APIRoute):
    """Checks the CSRF token of every POST before anything runs, and shows domain errors
    (Invalid, Forbidden, NotFound, Conflict...) as pages with their status, never a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler (dependencies included) in the console's guard."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if request.method == "POST":
                    form = await request.form()
                    csrf.check(cookie_session(request), form.get(csrf.FIELD))
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except csrf.CsrfRefused:
                return await run_in_threadpool(
                    error_page,
                    request,
                    403,
                    "This form could not be accepted: it was not sent from this session's "
                    "pages, or your session has ended. Reload the page and try again.",
                )
            except DomainError as exc:
                return await run_in_threadpool(error_page, request, exc.status, exc.message)
            except RequestValidationError:
                return await run_in_threadpool(
                    error_page, request, 400, "Some fields of the form are missing or invalid."
                )
            except HTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else "The request failed."
                return await run_in_threadpool(error_page, request, exc.status_code, message)

        return guarded
