"""Git's smart HTTP at ``/git/<project>.git``, served by real ``git http-backend``.

Authentication is HTTP Basic with an API token or an access token as the password
(any user name), or a bearer token; without credentials the answer is 401 with a Basic
challenge, so git asks its credential helper. Both bodies stream through: nothing
reads a pack whole. Ref updates of a push are then decided by the repository's hook.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from collections.abc import Mapping
from contextlib import suppress
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from homeport.domain import auth
from homeport.domain.errors import DomainError, NotAuthenticated, TooManyAttempts
from homeport.git.access import SERVICES, authorize, git_env, project_from_path
from homeport.store.models import Account
from homeport.web.state import AppState

CHUNK = 64 * 1024
CHALLENGE = 'Basic realm="Homeport"'
# git processes at once; more requests wait for a turn instead of forking without end.
MAX_GIT_PROCESSES = 16


class GitHttp:
    """The ASGI app mounted at ``/git``."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._turns: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        repo, _, rest = _relative(scope).lstrip("/").partition("/")
        project_id = project_from_path(repo)
        service = _service(scope, rest)
        if project_id is None or service is None:
            await _plain(send, 404, "Not found.\n")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("unknown", 0)
        try:
            account = await run_in_threadpool(self._account, headers, str(client[0]))
            if account is None:
                await _plain(send, 401, "Authentication required.\n", challenge=True)
                return
            await run_in_threadpool(self._authorize, account, project_id)
        except TooManyAttempts as exc:
            await _plain(send, 429, "Too many failed attempts.\n", retry_after=exc.retry_after)
            return
        except NotAuthenticated:
            await _plain(send, 401, "Invalid credentials.\n", challenge=True)
            return
        except DomainError:
            await _plain(send, 404, "Repository not found.\n")
            return
        if self._turns is None:
            self._turns = asyncio.Semaphore(MAX_GIT_PROCESSES)
        async with self._turns:
            await self._backend(scope, receive, send, headers, account, project_id, rest)

    def _account(self, headers: Mapping[str, str], address: str) -> Account | None:
        """The account behind the request's credentials; None when there are none."""
        token = _credential(headers.get("authorization", ""))
        if token is None:
            return None
        state = self.state
        if token.startswith("hpt_"):
            with state.db.session() as session:
                account = auth.account_for_api_token(
                    session, state.auth_keys, state.limiter, token, address
                )
                session.expunge(account)
                return account
        return state.grant_cache.authenticate(state.auth_keys, token).account

    def _authorize(self, account: Account, project_id: str) -> None:
        with self.state.db.session() as session:
            authorize(session, account, project_id)

    async def _backend(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        account: Account,
        project_id: str,
        rest: str,
    ) -> None:
        settings = self.state.settings
        env = git_env(os.environ, account.id, project_id, no_wait=False)
        env |= {
            "GIT_PROJECT_ROOT": str(settings.git_dir),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "PATH_INFO": f"/{project_id}.git/{rest}",
            "REQUEST_METHOD": scope["method"],
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
            "CONTENT_TYPE": headers.get("content-type", ""),
            "REMOTE_USER": account.email,
            "REMOTE_ADDR": str((scope.get("client") or ("", 0))[0]),
        }
        for name, var in (
            ("content-length", "CONTENT_LENGTH"),
            ("content-encoding", "HTTP_CONTENT_ENCODING"),
            ("git-protocol", "GIT_PROTOCOL"),
        ):
            if headers.get(name):
                env[var] = headers[name]
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        feeder = asyncio.create_task(_feed(receive, proc))
        try:
            await _relay(proc, send)
        finally:
            feeder.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await feeder
            if proc.returncode is None:
                with suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()


def _relative(scope: Scope) -> str:
    """The path below the mount point (``/<project>.git/...``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "") or "/git"
    return path[len(root) :] if path.startswith(root + "/") else path


def _service(scope: Scope, rest: str) -> str | None:
    """The git service a smart-HTTP request asks for, or None."""
    method = scope["method"]
    if method == "GET" and rest == "info/refs":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        wanted = (query.get("service") or [""])[0]
        return wanted if wanted in SERVICES else None
    if method == "POST" and rest in SERVICES:
        return rest
    return None


def _credential(header: str) -> str | None:
    """The token in a Basic (as password) or Bearer Authorization header."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    password = decoded.partition(":")[2].strip()
    return password or None


async def _feed(receive: Receive, proc: asyncio.subprocess.Process) -> None:
    """Stream the request body into git's stdin, then close it."""
    assert proc.stdin is not None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body = message.get("body", b"")
            if body:
                proc.stdin.write(body)
                await proc.stdin.drain()
            if not message.get("more_body", False):
                break
    finally:
        with suppress(Exception):
            proc.stdin.close()


async def _relay(proc: asyncio.subprocess.Process, send: Send) -> None:
    """Read git's CGI answer: headers first, then the body, streamed as it comes."""
    assert proc.stdout is not None
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        chunk = await proc.stdout.read(CHUNK)
        if not chunk:
            break
        head += chunk
        if len(head) > 65536:
            break
    sep = b"\r\n\r\n" if b"\r\n\r\n" in head else b"\n\n"
    raw_headers, _, body = head.partition(sep)
    status, headers = 200, []
    for line in raw_headers.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0] or 200)
        elif name.strip():
            headers.append((name.strip().lower().encode(), value.strip().encode("latin-1")))
    if not raw_headers:
        status = 500
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if body:
        await send({"type": "http.response.body", "body": body, "more_body": True})
    while chunk := await proc.stdout.read(CHUNK):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain(
    send: Send,
    status: int,
    text: str,
    challenge: bool = False,
    retry_after: int | None = None,
) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if challenge:
        headers.append((b"www-authenticate", CHALLENGE.encode()))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
