"""The REST API as the commands see it: authenticated JSON requests, links, errors.

Status codes are mapped like the PHP CLI's event subscriber does: 401 (after one
retry with a fresh token) means login required (exit 3), 403 permission denied
(exit 6); other errors carry the server's message.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from homeport.cli.auth import Auth, unauthorized_message
from homeport.cli.console import DEBUG
from homeport.cli.errors import ApiError, CommandFailed, LoginRequired, PermissionDenied
from homeport.cli.transport import Transport, with_query

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from homeport.cli.config import Config
    from homeport.cli.console import Console
    from homeport.cli.env import Environment
    from homeport.cli.transport import Response, StreamedResponse

    Params = Sequence[tuple[str, Any]] | Mapping[str, Any] | None


def link(resource: Mapping[str, Any] | None, rel: str) -> str | None:
    """The href of `_links[rel]` on a HAL resource, or None when absent."""
    if not resource:
        return None
    links = resource.get("_links")
    if not isinstance(links, dict):
        return None
    entry = links.get(rel)
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if isinstance(entry, dict) and isinstance(entry.get("href"), str):
        return str(entry["href"])
    return None


def embedded_activities(result: Any) -> list[dict[str, Any]]:
    """`_embedded.activities` of a mutation's answer (empty when absent)."""
    if isinstance(result, dict):
        embedded = result.get("_embedded")
        if isinstance(embedded, dict) and isinstance(embedded.get("activities"), list):
            return [a for a in embedded["activities"] if isinstance(a, dict)]
    return []


def embedded_entity(result: Any) -> dict[str, Any] | None:
    """`_embedded.entity` of a mutation's answer, or a bare object answer."""
    if isinstance(result, dict):
        embedded = result.get("_embedded")
        if isinstance(embedded, dict) and isinstance(embedded.get("entity"), dict):
            return dict(embedded["entity"])
        if "_embedded" not in result and "id" in result:
            return result
    return None


def error_message(body: Any) -> str:
    """The human part of an API error body (`message`, `error_description`, `detail`...)."""
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error_description") or body.get("title") or ""
    text = str(message)
    detail = body.get("detail")
    if isinstance(detail, dict):
        for field, problems in detail.items():
            items = problems if isinstance(problems, list) else [problems]
            for problem in items:
                line = f"{field}: {problem}"
                if line not in text:
                    text += f"\n{line}"
    elif isinstance(detail, str) and detail and detail not in text:
        text += f"\n{detail}"
    return text.strip()


# The largest page `GET /projects` serves.
PROJECT_PAGE_MAX = 200


class Api:
    """Authenticated JSON access to one Homeport (or Platform.sh-compatible) server."""

    def __init__(self, env: Environment, config: Config, console: Console) -> None:
        self.env = env
        self.config = config
        self.console = console
        self.transport = Transport(config.timeout, not config.skip_ssl, config.user_agent)
        self.auth = Auth(env, config, self.transport, console)

    # URLs --------------------------------------------------------------------------------

    def url(self, href: str) -> str:
        """An absolute URL for an API path or a `_links` href.

        Like the PHP client, only the path of an absolute href is kept: a server behind
        a proxy may not know the host name its clients use.
        """
        base = urlsplit(self.config.api_url)
        root = f"{base.scheme}://{base.netloc}"
        if href.startswith(("http://", "https://")):
            parts = urlsplit(href)
            href = parts.path + (f"?{parts.query}" if parts.query else "")
            return root + href
        if href.startswith("/"):
            if base.path and base.path != "/" and not href.startswith(base.path.rstrip("/") + "/"):
                return self.config.api_url + href
            return root + href
        return self.config.api_url + "/" + href

    @staticmethod
    def quote(segment: str) -> str:
        """URL-encode one path segment (`env:FOO` becomes `env%3AFOO`)."""
        return quote(segment, safe="")

    # Requests ----------------------------------------------------------------------------

    def _headers(self, token: str, json_body: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def raw(
        self,
        method: str,
        href: str,
        *,
        params: Params = None,
        body: Any = None,
    ) -> Response:
        """Send an authenticated request; retry once with a fresh token after a 401."""
        url = with_query(self.url(href), params)
        data = None if body is None else json.dumps(body).encode("utf-8")
        token = self.auth.access_token()
        self.console.err(f"> {method} {url}", level=DEBUG)
        resp = self.transport.request(
            method, url, headers=self._headers(token, data is not None), body=data
        )
        if resp.status == 401:
            token = self.auth.access_token(force_refresh=True)
            resp = self.transport.request(
                method, url, headers=self._headers(token, data is not None), body=data
            )
            if resp.status == 401:
                raise LoginRequired(unauthorized_message(self.config.executable))
        self.console.err(f"< {resp.status} {resp.reason}", level=DEBUG)
        return resp

    def check(self, resp: Response, method: str, href: str) -> Any:
        """The JSON of a successful answer; errors become the matching exception."""
        if resp.ok:
            return resp.json()
        body = resp.json()
        message = error_message(body)
        path = urlsplit(self.url(href)).path
        if resp.status == 403:
            what = "environment" if "/environments/" in path else "project"
            if "/projects/" not in path:
                text = "Permission denied."
            else:
                text = f"Permission denied. Check your permissions on the {what}."
            # The server's message often names the role needed: always show it.
            if message and message.strip().lower() not in ("forbidden", "permission denied."):
                text += f"\n{message}"
            raise PermissionDenied(text)
        if resp.status == 404:
            raise ApiError(f"Not found: {path}" + (f"\n{message}" if message else ""), 404, body)
        kind = "The server failed" if resp.status >= 500 else "The API refused the request"
        text = f"{kind}: {method} {path}: HTTP {resp.status} {resp.reason}"
        if message:
            text += f"\n{message}"
        raise ApiError(text, resp.status, body)

    def get(self, href: str, params: Params = None) -> Any:
        """GET a JSON document."""
        return self.check(self.raw("GET", href, params=params), "GET", href)

    def get_optional(self, href: str, params: Params = None) -> Any:
        """GET a JSON document, or None on 404."""
        resp = self.raw("GET", href, params=params)
        if resp.status == 404:
            return None
        return self.check(resp, "GET", href)

    def send(self, method: str, href: str, body: Any = None) -> Any:
        """POST/PATCH/PUT/DELETE with an optional JSON body; the answer's JSON."""
        return self.check(self.raw(method, href, body=body), method, href)

    def stream(self, href: str, params: Params = None, timeout: float = 10.0) -> StreamedResponse:
        """Open a streamed GET (the activity log)."""
        url = with_query(self.url(href), params)
        token = self.auth.access_token()
        resp = self.transport.stream(url, headers=self._headers(token, False), timeout=timeout)
        if resp.status == 401:
            resp.close()
            token = self.auth.access_token(force_refresh=True)
            resp = self.transport.stream(url, headers=self._headers(token, False), timeout=timeout)
        if resp.status >= 400:
            body = resp.read()
            resp.close()
            from homeport.cli.transport import Response as Full

            self.check(Full(resp.status, "", {}, body), "GET", href)
        return resp

    # Resources ---------------------------------------------------------------------------

    def project_url(self, project: Mapping[str, Any] | str) -> str:
        """A project's own URL (its `self` link, else `/projects/{id}`)."""
        if isinstance(project, str):
            return f"/projects/{self.quote(project)}"
        return link(project, "self") or f"/projects/{self.quote(str(project['id']))}"

    def environment_url(self, project: Mapping[str, Any], env: Mapping[str, Any] | str) -> str:
        """An environment's own URL."""
        if not isinstance(env, str):
            href = link(env, "self")
            if href:
                return href
            env = str(env["id"])
        return f"{self.project_url(project)}/environments/{self.quote(env)}"

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        """A project by ID, or None when it does not exist (or is not visible)."""
        data = self.get_optional(self.project_url(project_id))
        return data if isinstance(data, dict) else None

    def projects(self) -> list[dict[str, Any]]:
        """All the caller's projects: Homeport's `GET /projects` (page after page; a
        plain array from older servers), else the legacy `/me`."""
        resp = self.raw("GET", "/projects", params={"page[size]": PROJECT_PAGE_MAX})
        if resp.status in (404, 405):
            me = self.get("/me")
            items = me.get("projects", []) if isinstance(me, dict) else []
            return [p for p in items or [] if isinstance(p, dict)]
        data = self.check(resp, "GET", "/projects")
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            if not isinstance(data, dict):
                items = data
            else:
                items = data.get("items", data.get("projects", []))
            fresh = [p for p in items or [] if isinstance(p, dict) and str(p.get("id")) not in seen]
            out.extend(fresh)
            seen.update(str(p.get("id")) for p in fresh)
            href = link(data, "next") if isinstance(data, dict) else None
            if not href or not fresh:
                return out
            data = self.get(href)

    def projects_page(
        self, size: int, sort: str, page: int
    ) -> tuple[list[dict[str, Any]], int] | None:
        """Page ``page`` (from 1) of ``size`` projects in ``sort`` order and how many there
        are, asking only for that page (following `next` links to reach it); None when
        the server does not page its project list (the caller then lists them all)."""
        params = {"page[size]": size, "sort": sort}
        resp = self.raw("GET", "/projects", params=params)
        if resp.status in (400, 404, 405):
            return None
        data = self.check(resp, "GET", "/projects")
        for _ in range(page - 1):
            href = link(data, "next") if isinstance(data, dict) else None
            if not href:
                data = {**data, "items": []} if isinstance(data, dict) else data
                break
            data = self.get(href)
        if not isinstance(data, dict) or not isinstance(data.get("count"), int):
            return None
        items = [p for p in data.get("items") or [] if isinstance(p, dict)]
        return items, int(data["count"])

    def environments(self, project: Mapping[str, Any]) -> list[dict[str, Any]]:
        """All environments of a project (a plain array in the API)."""
        href = link(project, "environments") or f"{self.project_url(project)}/environments"
        data = self.get(href)
        return [e for e in data or [] if isinstance(e, dict)] if isinstance(data, list) else []

    def get_environment(self, project: Mapping[str, Any], env_id: str) -> dict[str, Any] | None:
        """One environment by ID, or None."""
        data = self.get_optional(self.environment_url(project, env_id))
        return data if isinstance(data, dict) else None

    def refresh(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """Re-read a resource from its `self` link."""
        href = link(resource, "self")
        if not href:
            raise CommandFailed("The resource has no self link to refresh it from.")
        data = self.get(href)
        return dict(data) if isinstance(data, dict) else dict(resource)

    def me(self) -> dict[str, Any]:
        """`GET /users/me`."""
        data = self.get("/users/me")
        return data if isinstance(data, dict) else {}
