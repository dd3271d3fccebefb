"""The SSH listener (asyncssh): git, and shells into environments.

Git: ``ssh://<project>@<host>:<port>/<project>.git``. Accounts authenticate with the
public keys they added (deactivated accounts cannot); the only commands are
``git-upload-pack`` and ``git-receive-pack`` on a project path, which run the real
git programs with the channel streamed both ways. Anything else gets one line on
stderr and exit status 1.

A username of the form ``<project>-<machine_name>--<app>`` opens a shell in that app's
sandbox instead (``homeport.ssh.shell``). The server runs on its own event loop in a
thread, beside uvicorn's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any

import asyncssh
from sqlalchemy import select

from homeport.domain.errors import DomainError
from homeport.git.access import NO_WAIT_VAR, SERVICES, authorize, git_env, project_from_path
from homeport.git.repos import repo_path
from homeport.settings import Settings
from homeport.ssh.host_key import fingerprint, load_or_create
from homeport.ssh.shell import ShellService, parse_user
from homeport.store.db import Database
from homeport.store.models import Account, SshKey

log = logging.getLogger("homeport.ssh")

ONLY_GIT = "Homeport: only git-upload-pack and git-receive-pack are allowed here.\n"
NOT_FOUND = "Homeport: repository not found.\n"
MAX_CONNECTIONS = 64  # beyond this, new connections are closed at once
MAX_GIT_PROCESSES = 16  # git programs at once; more sessions wait their turn
LOGIN_TIMEOUT = 30


@dataclass
class _Shared:
    """What every connection of one server uses."""

    settings: Settings
    db: Database
    turns: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_GIT_PROCESSES))
    connections: int = 0
    shells: ShellService = field(init=False)

    def __post_init__(self) -> None:
        self.shells = ShellService(self.settings, self.db)


class _Connection(asyncssh.SSHServer):
    """One client: public-key authentication against the accounts' SSH keys."""

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared
        self.conn: asyncssh.SSHServerConnection | None = None
        self.counted = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        if self.shared.connections >= MAX_CONNECTIONS:
            conn.close()
            return
        self.shared.connections += 1
        self.counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.counted:
            self.shared.connections -= 1
            self.counted = False

    def begin_auth(self, username: str) -> bool:
        return True  # every login needs a key

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Called for a key offered and again for the key signed with; the last call
        # before authentication completes is the key that authenticated.
        account_id = await asyncio.to_thread(self._account_for, fingerprint(key))
        if account_id is None or self.conn is None:
            return False
        self.conn.set_extra_info(homeport_account=account_id)
        return True

    def _account_for(self, key_fingerprint: str) -> str | None:
        with self.shared.db.session() as session:
            row = session.execute(
                select(Account.id, Account.deactivated)
                .join(SshKey, SshKey.account_id == Account.id)
                .where(SshKey.fingerprint == key_fingerprint)
            ).first()
        if row is None or row.deactivated:
            return None
        return str(row.id)


async def _serve_process(shared: _Shared, process: asyncssh.SSHServerProcess[bytes]) -> None:
    """Run one session: a shell for a shell username, else a git program on a visible
    project, or a refusal."""
    try:
        target = parse_user(str(process.get_extra_info("username") or ""))
        if target is not None:
            account_id = str(process.get_extra_info("homeport_account") or "")
            status = await shared.shells.serve(process, target, account_id)
        else:
            status = await _run(shared, process)
    except Exception:  # a failure here must end this session only
        log.exception("ssh session failed")
        status = 1
    process.exit(status)


async def _run(shared: _Shared, process: asyncssh.SSHServerProcess[bytes]) -> int:
    command = process.command
    try:
        words = shlex.split(command) if command else []
    except ValueError:
        words = []
    if len(words) != 2 or words[0] not in SERVICES:
        process.stderr.write(ONLY_GIT.encode())
        return 1
    service, path = words
    project_id = project_from_path(path)
    account_id = str(process.get_extra_info("homeport_account") or "")
    if project_id is None or not await asyncio.to_thread(
        _may_reach, shared, account_id, project_id
    ):
        process.stderr.write(NOT_FOUND.encode())
        return 1
    env = git_env(os.environ, account_id, project_id, no_wait=process.env.get(NO_WAIT_VAR) == "1")
    repo = repo_path(shared.settings.git_dir, project_id)
    async with shared.turns:
        proc = await asyncio.create_subprocess_exec(
            service,
            str(repo),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        feeding = asyncio.create_task(_copy_in(process, proc.stdin))
        try:
            # Everything git wrote must be on the channel before the exit status is.
            await asyncio.gather(
                _copy_out(proc.stdout, process.stdout), _copy_out(proc.stderr, process.stderr)
            )
            return await proc.wait()
        finally:
            feeding.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


CHUNK = 64 * 1024


async def _copy_in(process: asyncssh.SSHServerProcess[bytes], stdin: asyncio.StreamWriter) -> None:
    """The client's bytes into git, until the client's EOF (then git's stdin closes)."""
    try:
        while chunk := await process.stdin.read(CHUNK):
            stdin.write(chunk)
            await stdin.drain()
    except (ConnectionError, asyncssh.Error):
        pass
    finally:
        stdin.close()


async def _copy_out(source: asyncio.StreamReader, channel: asyncssh.SSHWriter[bytes]) -> None:
    """git's bytes onto the channel, with the channel's flow control, to git's EOF."""
    while chunk := await source.read(CHUNK):
        channel.write(chunk)
        await channel.drain()


def _may_reach(shared: _Shared, account_id: str, project_id: str) -> bool:
    with shared.db.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            return False
        try:
            authorize(session, account, project_id)
        except DomainError:
            return False
    return True


class SshGitServer:
    """The listener, on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.host_key = load_or_create(settings.ssh_dir)
        self.fingerprint = fingerprint(self.host_key)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._acceptor: Any = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="ssh", daemon=True)

    def start(self, host: str, port: int) -> SshGitServer:
        """Listen on ``host:port`` (0: any free port); raises OSError if it cannot."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(host, port), self._loop)
        try:
            future.result(timeout=30)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise
        return self

    async def _listen(self, host: str, port: int) -> None:
        shared = _Shared(self.settings, self.db)

        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            await _serve_process(shared, process)

        self._acceptor = await asyncssh.create_server(
            lambda: _Connection(shared),
            host,
            port,
            server_host_keys=[self.host_key],
            process_factory=handle,
            encoding=None,
            login_timeout=LOGIN_TIMEOUT,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            line_editor=False,
            keepalive_interval=30,
        )
        self.port = int(self._acceptor.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Close the listener and its connections, and end the loop's thread."""

        async def close() -> None:
            if self._acceptor is not None:
                self._acceptor.close()
                await self._acceptor.wait_closed()

        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            except Exception:  # stopping anyway
                log.warning("ssh server did not close cleanly")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
