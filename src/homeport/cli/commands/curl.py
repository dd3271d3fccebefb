"""`api:curl`, `project:curl`, `environment:curl`: authenticated raw API requests.

The PHP CLI runs the `curl` binary; this sends the request itself (`http.client`),
with the same options, so no curl is needed. Like `curl --fail-with-body`, the body
of an error answer is printed and the exit status is 22.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from homeport.cli.commands.base import Command
from homeport.cli.console import VERBOSE
from homeport.cli.errors import CommandFailed, InvalidArgument
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from homeport.cli.transport import Response

# curl's exit status for an HTTP answer of 400 or more with --fail / --fail-with-body.
CURL_HTTP_ERROR = 22


class ApiCurl(Command):
    """`api:curl [path]`: a request relative to the API URL."""

    scope = "api"

    def configure(self, d: Definition) -> None:
        d.argument("path", "The API path")
        d.option("request", "X", REQUIRED, "The request method to use")
        d.option("data", "d", REQUIRED, "Data to send")
        d.option("json", "", REQUIRED, "JSON data to send")
        d.option("include", "i", FLAG, "Include headers in the output")
        d.option("head", "I", FLAG, "Fetch headers only")
        d.option("disable-compression", "", FLAG, "Do not request a compressed answer")
        d.option("enable-glob", "", FLAG, "Accepted for compatibility (globbing is not done)")
        d.option("no-retry-401", "", FLAG, "Disable automatic retry on 401 errors")
        d.option("fail", "f", FLAG, "Fail with no output on an error response")
        d.option("header", "H", REQUIRED, "Extra header(s)", is_array=True)
        self.add_project_option(d)
        if self.scope != "project":
            self.add_environment_option(d)

    def base_url(self) -> str:
        """The URL that the path is relative to."""
        if self.scope == "project":
            return self.api.url(self.api.project_url(self.select_project()))
        if self.scope == "environment":
            env = self.select_environment(required=True)
            assert env is not None
            return self.api.url(self.api.environment_url(self.select_project(), env))
        return self.config.api_url

    def _path(self) -> str:
        """The path argument, with `{project}` and `{environment}` filled in."""
        path = str(self.input.arg("path") or "")
        if self.scope == "api":
            if "{project}" in path or self.input.str_opt("project"):
                path = path.replace("{project}", self.api.quote(str(self.select_project()["id"])))
            if "{environment}" in path:
                env = self.select_environment(required=True)
                assert env is not None
                path = path.replace("{environment}", self.api.quote(str(env["id"])))
        return path

    def _body(self, headers: dict[str, str]) -> bytes | None:
        raw_json = self.input.str_opt("json")
        data = self.input.str_opt("data")
        if raw_json:
            try:
                json.loads(raw_json)
            except ValueError:
                raise InvalidArgument("The value of --json contains invalid JSON.") from None
            headers["Content-Type"] = "application/json"
            headers["Accept"] = "application/json"
        if data:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        parts = [p for p in (raw_json, data) if p]
        return "&".join(parts).encode("utf-8") if parts else None

    def execute(self) -> int:
        path = self._path()
        if path and urlsplit(path).hostname:
            raise CommandFailed(f"Invalid path: {path}")
        url = self.base_url().rstrip("/")
        if path:
            url += "/" + path.lstrip("/")
        headers: dict[str, str] = {}
        body = self._body(headers)
        head = bool(self.input.opt("head"))
        method = self.input.str_opt("request") or ("HEAD" if head else "POST" if body else "GET")
        if not self.input.opt("disable-compression"):
            headers["Accept-Encoding"] = "gzip"
        for line in self.input.opt("header") or []:
            name, _, value = str(line).partition(":")
            headers[name.strip()] = value.strip()
        resp = self._send(method, url, headers, body)
        if resp.status >= 400 and self.input.opt("fail"):
            return CURL_HTTP_ERROR
        if head or self.input.opt("include"):
            self._print_headers(resp)
        if not head:
            self.console.out(_decoded(resp).decode("utf-8", errors="replace"), newline=False)
        return CURL_HTTP_ERROR if resp.status >= 400 else 0

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        auth = self.api.auth
        transport = self.api.transport
        self.console.err(f"Request: {method} {url}", VERBOSE)
        resp = transport.request(
            method,
            url,
            headers={**headers, "Authorization": f"Bearer {auth.access_token()}"},
            body=body,
        )
        if resp.status == 401 and not self.input.opt("no-retry-401"):
            token = auth.access_token(force_refresh=True)
            self.console.err("The access token has been refreshed. Retrying request.")
            resp = transport.request(
                method, url, headers={**headers, "Authorization": f"Bearer {token}"}, body=body
            )
        return resp

    def _print_headers(self, resp: Response) -> None:
        lines = [f"HTTP/1.1 {resp.status} {resp.reason}"]
        lines += [f"{name}: {value}" for name, value in resp.header_items]
        self.console.out("\r\n".join(lines) + "\r\n\r\n", newline=False)


class ProjectCurl(ApiCurl):
    """`project:curl [path]`: a request relative to the project's URL."""

    scope = "project"


class EnvironmentCurl(ApiCurl):
    """`environment:curl [path]`: a request relative to the environment's URL."""

    scope = "environment"


def _decoded(resp: Response) -> bytes:
    """The body, gunzipped when the server compressed it."""
    if resp.headers.get("content-encoding", "").lower() == "gzip":
        import gzip

        return gzip.decompress(resp.body)
    return resp.body
