"""Shells into environments: ``ssh <project>-<machine_name>--<app>@host`` (platform-deploy.md §7).

The login's username names the project, the environment (by its machine name) and the
app. The one policy decides: the account must see the environment, and hold at least
the role the app's ``access.ssh`` names (contributor when unset). A shell request
starts an interactive bash in the app's sandbox, a command runs there; both with
`.environment` sourced, the run-time variables of the app, and the command's exit
status passed back. With a pty the program gets a fresh terminal of its own as its
controlling terminal, sized like the client's and following its changes.

Refusals are one line on stderr and exit status 1; someone who may not see the
environment gets the same line as for one that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import struct
import termios
import threading
from dataclasses import dataclass
from typing import Any

import asyncssh
from sqlalchemy import select

from homeport.domain.errors import DomainError
from homeport.domain.policy import load_grants
from homeport.runtime.app_env import AppEnvironments, DeployedApp, NotDeployed
from homeport.runtime.appconfig.model import SSH_ROLES
from homeport.runtime.contract import with_environment_file
from homeport.runtime.sandbox import SandboxUnavailable, command
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Account, Environment, Project

log = logging.getLogger("homeport.ssh")

# <project id>-<machine name>--<app>; machine and app names may hold dashes (even two).
SHELL_USER = re.compile(r"([a-z0-9]{1,32})-([a-z0-9-]+--[a-z0-9-]+)")
TERM_NAME = re.compile(r"[A-Za-z0-9._+-]{1,64}")
MAX_SHELLS = 16  # shell processes at once; beyond that, sessions are refused
CHUNK = 64 * 1024
DRAIN_SECONDS = 5.0  # output still flowing after the program ended may take this long

UNKNOWN = "Environment not found, or you do not have access to it."
BUSY = "Too many SSH sessions are running on this server; try again later."


class Refused(Exception):
    """The session does not start; the message is the line the client sees."""


@dataclass(frozen=True)
class ShellTarget:
    """What a shell username names: a project id, and ``<machine_name>--<app>``."""

    project_id: str
    rest: str


def parse_user(username: str) -> ShellTarget | None:
    """The target of a shell username, or None for any other (git) username."""
    match = SHELL_USER.fullmatch(username or "")
    if match is None:
        return None
    return ShellTarget(match.group(1), match.group(2))


def split_rest(rest: str, machine_names: list[str]) -> tuple[str, str] | None:
    """``(machine_name, app)`` of ``rest`` among the project's machine names; the longest
    that matches wins, so a branch name holding ``--`` still parses."""
    found = [m for m in machine_names if rest.startswith(m + "--") and len(rest) > len(m) + 2]
    if not found:
        return None
    machine = max(found, key=len)
    return machine, rest[len(machine) + 2 :]


@dataclass(frozen=True)
class Granted:
    """A shell the account may open: the app's sandbox and what the welcome names."""

    deployed: DeployedApp
    project_title: str
    worker: str | None = None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def welcome(granted: Granted) -> str:
    """The first lines of an interactive login."""
    place = granted.deployed.place
    return (
        f"Welcome to Homeport: project {_printable(granted.project_title)} ({place.project_id}), "
        f"environment {place.env_name} ({place.machine}, {place.env_type}), "
        f"app {granted.deployed.app.name}"
        + (f", worker {granted.worker}" if granted.worker else "")
        + ".\n"
        "Warning: env: variables (such as an API token in env:PLATFORMSH_CLI_TOKEN) are "
        "readable by anyone with SSH access to this environment.\n"
    )


class ShellService:
    """Opens shells for one server: access checks, sandboxes, the process limit."""

    def __init__(self, settings: Settings, db: Database, limit: int = MAX_SHELLS) -> None:
        self.settings, self.db = settings, db
        self.turns = asyncio.Semaphore(limit)
        self._apps: AppEnvironments | None = None
        self._apps_lock = threading.Lock()

    def _environments(self) -> AppEnvironments:
        with self._apps_lock:
            if self._apps is None:
                self._apps = AppEnvironments(self.settings, self.db)
            return self._apps

    # --- who may open what (blocking: run in a thread) --------------------------------

    def resolve(self, account_id: str, target: ShellTarget) -> Granted:
        """The app's sandbox if the account may open a shell there; else Refused."""
        with self.db.session() as session:
            account = session.get(Account, account_id)
            project = session.get(Project, target.project_id)
            if account is None or project is None:
                raise Refused(UNKNOWN)
            grants = load_grants(session, account, project)
            machines = list(
                session.scalars(
                    select(Environment.machine_name).where(Environment.project_id == project.id)
                )
            )
            parts = split_rest(target.rest, machines)
            if parts is None:
                raise Refused(UNKNOWN)
            env = session.scalar(
                select(Environment).where(
                    Environment.project_id == project.id, Environment.machine_name == parts[0]
                )
            )
            if env is None or not grants.can_env("view", env.type):
                raise Refused(UNKNOWN)
            if env.status != "active":
                raise Refused(
                    f"The environment {env.name} is {env.status}, "
                    "so an SSH connection is not possible."
                )
            allowed = {role: grants.can_ssh(env.type, role) for role in SSH_ROLES}
            env_name, env_type, title = env.name, env.type, project.title
        # `<app>--<worker>`: a worker runs in its app's sandbox, so its shell is that one.
        app_name, _, worker = parts[1].partition("--")
        try:
            deployed = self._environments().deployed(target.project_id, env_name, app_name)
        except NotDeployed as exc:
            raise Refused(str(exc)) from None
        except DomainError:  # it went away meanwhile
            raise Refused(UNKNOWN) from None
        need = deployed.app.access_ssh
        if not allowed.get(need, False):
            raise Refused(
                f"Access denied: SSH to the app '{app_name}' needs the {need} role "
                f"(its access.ssh) on {env_type} environments."
            )
        if worker and worker not in deployed.app.workers:
            raise Refused(f"No worker '{worker}' of the app '{app_name}' runs on {env_name}.")
        return Granted(deployed, title, worker or None)

    # --- the session ------------------------------------------------------------------

    async def serve(
        self,
        process: asyncssh.SSHServerProcess[bytes],
        target: ShellTarget,
        account_id: str,
    ) -> int:
        """Run one session to its end; returns the exit status to send."""
        try:
            granted = await asyncio.to_thread(self.resolve, account_id, target)
            if self.turns.locked():
                raise Refused(BUSY)
        except Refused as refusal:
            process.stderr.write(f"{refusal}\n".encode())
            return 1
        async with self.turns:
            place = granted.deployed.place
            log.info(
                "ssh shell: account %s on %s/%s app %s (%s)",
                account_id,
                place.project_id,
                place.env_name,
                granted.deployed.app.name,
                "shell" if process.command is None else "command",
            )
            try:
                return await _Session(self.settings.sandbox, process, granted).run()
            except SandboxUnavailable as exc:
                process.stderr.write(f"{exc}\n".encode())
                return 1


def _shell() -> str:
    """bash, as on Platform.sh; dash where there is none."""
    return "bash" if shutil.which("bash") else "dash"


def _set_size(fd: int, size: tuple[int, int, int, int]) -> None:
    """Give the terminal the client's size (the kernel tells its programs: SIGWINCH)."""
    width, height, pixwidth, pixheight = (max(0, min(v, 0xFFFF)) for v in size)
    packed = struct.pack("HHHH", height, width, pixwidth, pixheight)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)


def _kill_group(pid: int) -> None:
    """Kill the sandbox: its bubblewrap leads a session of its own, and the sandbox's
    PID namespace dies with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


async def _fd_ready(fd: int, writable: bool) -> None:
    """Wait until ``fd`` can be read (or written) without blocking."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if writable:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if writable:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


class _Flow:
    """Counts bytes that reached the client, so draining waits while output moves."""

    moved = 0


class _Session:
    """One program in an app's sandbox, its streams joined to one SSH channel."""

    def __init__(
        self, mode: str, process: asyncssh.SSHServerProcess[bytes], granted: Granted
    ) -> None:
        self.mode = mode
        self.process = process
        self.deployed = granted.deployed
        self.granted = granted
        self.flow = _Flow()
        self.pty = process.get_terminal_type() is not None

    def argv(self) -> list[str]:
        """The program: the client's command, or an interactive shell."""
        shell = _shell()
        line = self.process.command
        if line is None:
            # `set -a` keeps what `.environment` sets (exported or not) in the shell;
            # without a terminal the shell reads its commands from the client.
            login = f"set +a\nexec {shell} -i" if self.pty else f"set +a\nexec {shell}"
            argv = ["dash", "-c", "set -a\n" + with_environment_file(login)]
        else:
            argv = [shell, "-c", with_environment_file(line)]
        if self.pty and shutil.which("setsid"):
            # A session of its own with the pty as its controlling terminal (job
            # control, ^C); -w passes the program's exit status back.
            argv = ["setsid", "-w", "--ctty", *argv]
        return argv

    def environ(self) -> dict[str, str]:
        """The app's run-time variables, and TERM as the client gave it."""
        env = dict(self.deployed.sandbox.env)
        term = self.process.get_terminal_type() or self.process.env.get("TERM")
        if isinstance(term, str) and TERM_NAME.fullmatch(term):
            env["TERM"] = term
        return env

    async def spawn(self, stdin: int, stdout: int, stderr: int) -> asyncio.subprocess.Process:
        """Start the program in the app's sandbox, as the deployed processes start."""
        sandbox = self.deployed.sandbox
        with command(sandbox, self.argv(), self.mode) as (args, fds):
            return await asyncio.create_subprocess_exec(
                *args,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=self.environ(),
                cwd=str(sandbox.app_dir) if self.mode == "none" else None,
                pass_fds=fds,
                start_new_session=True,
            )

    async def run(self) -> int:
        """Run the program; the exit status once its output reached the client."""
        if self.process.command is None:
            text = welcome(self.granted)
            if self.pty:
                self.process.stdout.write(text.replace("\n", "\r\n").encode())
            else:
                self.process.stderr.write(text.encode())
        if self.pty:
            return await self._run_pty()
        return await self._run_pipes()

    async def _supervise(
        self, proc: asyncio.subprocess.Process, output: asyncio.Future[Any]
    ) -> int:
        """Wait for the program (and its output), or kill it when the channel closes."""
        ended = asyncio.ensure_future(self._ended(proc, output))
        closed = asyncio.ensure_future(self.process.wait_closed())
        try:
            await asyncio.wait({ended, closed}, return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                return ended.result()
            return 1  # the client is gone; nobody reads the status
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
                await proc.wait()
            for task in (ended, closed, output):
                task.cancel()
            await asyncio.gather(ended, closed, output, return_exceptions=True)

    async def _ended(self, proc: asyncio.subprocess.Process, output: asyncio.Future[Any]) -> int:
        """The program's exit status, once its last output reached the client (or has
        stopped moving: a straggler still holding the stream does not keep it open)."""
        status = _exit_status(await proc.wait())
        while not output.done():
            before = self.flow.moved
            try:
                await asyncio.wait_for(asyncio.shield(output), DRAIN_SECONDS)
            except TimeoutError:
                if self.flow.moved == before:
                    _kill_group(proc.pid)
                    break
        return status

    # --- without a terminal: three pipes ------------------------------------------------

    async def _run_pipes(self) -> int:
        pipe = asyncio.subprocess.PIPE
        proc = await self.spawn(pipe, pipe, pipe)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        feeding = asyncio.ensure_future(self._pipe_in(proc.stdin))
        output = asyncio.gather(
            self._pipe_out(proc.stdout, self.process.stdout),
            self._pipe_out(proc.stderr, self.process.stderr),
        )
        try:
            return await self._supervise(proc, output)
        finally:
            feeding.cancel()

    async def _pipe_in(self, stdin: asyncio.StreamWriter) -> None:
        """The client's bytes into the program, until the client's EOF."""
        try:
            while True:
                try:
                    chunk = await self.process.stdin.read(CHUNK)
                except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived):
                    continue
                except asyncssh.SignalReceived:
                    continue
                if not chunk:
                    break
                stdin.write(chunk)
                await stdin.drain()
        except (ConnectionError, asyncssh.Error):
            pass
        finally:
            stdin.close()

    async def _pipe_out(
        self, source: asyncio.StreamReader, channel: asyncssh.SSHWriter[bytes]
    ) -> None:
        """The program's bytes onto the channel, with its flow control, to EOF."""
        try:
            while chunk := await source.read(CHUNK):
                channel.write(chunk)
                await channel.drain()
                self.flow.moved += len(chunk)
        except (ConnectionError, asyncssh.Error):
            pass  # the channel is gone; the supervisor ends the program

    # --- with a terminal: one pty ---------------------------------------------------------

    async def _run_pty(self) -> int:
        master, slave = os.openpty()
        try:
            os.set_blocking(master, False)
            _set_size(master, self.process.get_terminal_size())
            proc = await self.spawn(slave, slave, slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        feeding = asyncio.ensure_future(self._pty_in(master))
        output = asyncio.ensure_future(self._pty_out(master))
        try:
            return await self._supervise(proc, output)
        finally:
            feeding.cancel()
            await asyncio.gather(feeding, output, return_exceptions=True)
            os.close(master)

    async def _pty_in(self, master: int) -> None:
        """Keystrokes into the terminal; size changes onto it. A terminal has no EOF
        to pass on, so the client's EOF only ends this copy (as with OpenSSH)."""
        try:
            while True:
                try:
                    chunk = await self.process.stdin.read(CHUNK)
                except asyncssh.TerminalSizeChanged as change:
                    _set_size(master, change.term_size)
                    continue
                except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                    continue
                if not chunk:
                    return
                await _write_all(master, chunk)
        except (ConnectionError, asyncssh.Error, OSError):
            pass

    async def _pty_out(self, master: int) -> None:
        """The terminal's output onto the channel, until every program in the
        session closed it (EIO)."""
        channel = self.process.stdout
        try:
            while True:
                try:
                    chunk = os.read(master, CHUNK)
                except BlockingIOError:
                    await _fd_ready(master, writable=False)
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                channel.write(chunk)
                await channel.drain()
                self.flow.moved += len(chunk)
        except (ConnectionError, asyncssh.Error):
            pass


async def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking descriptor."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await _fd_ready(fd, writable=True)
