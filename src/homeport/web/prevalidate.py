"""Write routes check their JSON body before they wait for the writer turn.

FastAPI solves a route's dependencies (the database session, and with it the writer
turn) before it validates the body. A hostile body would then be validated, and its
errors listed, while every other writer waits. The session dependency calls
``validate_body_first`` before it queues, so bad input never reaches the lock.
"""

from __future__ import annotations

from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request

from homeport.domain.errors import Invalid

# Deeper JSON than any Homeport body uses; the check also keeps the decoder's own
# recursion (which raises RecursionError, not a decode error) out of reach.
MAX_JSON_DEPTH = 32
# Validating a list of a million empty objects lists a million errors: bodies with more
# values than any Homeport request needs are refused before validation.
MAX_JSON_NODES = 10_000


async def validate_body_first(request: Request) -> None:
    """Validate the matched route's JSON body now; raise its (capped) 400 if invalid.

    Called by the session dependency before it waits for the writer turn. FastAPI has
    already read and parsed the body (it does so before any dependency), so this costs
    one more validation of a body that the size cap keeps small.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None or _is_form(route):
        return
    if not _is_json(request):
        return
    if not await request.body():
        return
    try:
        body = await request.json()  # parsed and cached by FastAPI already
    except (ValueError, RecursionError):
        return  # FastAPI answers this one as unreadable
    problem = _shape_problem(body)
    if problem:
        raise Invalid(problem)
    _, errors = await request_body_to_args(
        body_fields=_body_fields(route.dependant),
        received_body=body,
        embed_body_fields=bool(getattr(route, "_embed_body_fields", False)),
    )
    if errors:
        raise RequestValidationError(errors)


def _is_form(route: APIRoute) -> bool:
    return isinstance(route.body_field.field_info if route.body_field else None, params.Form)


def _body_fields(dependant: Dependant) -> list[Any]:
    """The body parameters of the route and of its dependencies."""
    fields: list[Any] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        fields.extend(current.body_params)
        stack.extend(current.dependencies)
    return fields


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("", "application/json") or kind.endswith("+json")


def _shape_problem(value: Any) -> str | None:
    """Why ``value`` is too deep or too big to validate, if it is (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            return f"The JSON body has more than {MAX_JSON_NODES} values."
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
        stack.extend((child, depth + 1) for child in children)
    return None
