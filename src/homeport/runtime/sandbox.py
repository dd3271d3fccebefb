"""The sandbox every app process runs in: bubblewrap, or nothing when asked on purpose.

Inside, the app sees the host's system directories read-only, its own tree at
`/app` (writable only while it builds), its mounts, a private `/tmp`, and its own
PID namespace; nothing of Homeport's data dir or of another environment exists
there. The network is shared so the app listens on loopback for the router.

Directories are handed to bubblewrap as open file descriptors (`--bind-fd`): the
sandbox user could not even traverse the private data dir to reach them by path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The uid app processes run as when Homeport itself runs as root ("nobody").
SANDBOX_UID = 65534
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
APP_ROOT = "/app"


class SandboxUnavailable(Exception):
    """bubblewrap is missing and the operator did not opt out of the sandbox."""


@dataclass(frozen=True)
class Sandbox:
    """Where an app process runs: its tree, what is writable, and its environment."""

    app_dir: Path
    app_writable: bool
    # Paths under /app (e.g. "web/uploads") → host directories, bound writable.
    mounts: Mapping[str, Path] = field(default_factory=dict)
    # Absolute sandbox paths → host directories, bound writable (e.g. the build cache).
    extra_rw: Mapping[str, Path] = field(default_factory=dict)
    # Absolute sandbox paths → host directories, bound read-only (e.g. the logs).
    extra_ro: Mapping[str, Path] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = APP_ROOT


def running_as_root() -> bool:
    """Homeport runs as root (CI does): app processes then drop to SANDBOX_UID."""
    return os.geteuid() == 0


def sandbox_owner() -> int | None:
    """The uid that must own writable sandbox directories, or None (ours)."""
    return SANDBOX_UID if running_as_root() else None


def prepare_writable(path: Path) -> None:
    """Create ``path`` and give it to the sandbox user, so app processes can write it."""
    path.mkdir(parents=True, exist_ok=True)
    owner = sandbox_owner()
    if owner is not None:
        os.chown(path, owner, owner)


def chown_tree(path: Path) -> None:
    """Give a whole tree (a build being made) to the sandbox user."""
    owner = sandbox_owner()
    if owner is None:
        return
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.lchown(os.path.join(root, name), owner, owner)
    os.lchown(path, owner, owner)


def give_to_sandbox(path: Path) -> None:
    """After Homeport itself wrote into mounts (a restore, a copy of the parent's
    data), make every file there the apps' again."""
    if path.exists():
        chown_tree(path)


def find_bwrap() -> str | None:
    """Debian's bubblewrap, if installed."""
    return shutil.which("bwrap") or (
        "/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None
    )


@contextmanager
def command(sandbox: Sandbox, argv: list[str], mode: str) -> Iterator[tuple[list[str], list[int]]]:
    """The argv that runs ``argv`` in ``sandbox``, and the descriptors to pass it.

    ``mode`` is "bwrap" or "none". The descriptors stay open until the block ends,
    so start the process inside it.
    """
    if mode == "none":
        yield argv, []
        return
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed: install it (apt-get install bubblewrap) "
            "or set HOMEPORT_SANDBOX=none to run apps without a sandbox"
        )
    fds: list[int] = []
    try:
        root = running_as_root()
        args = [bwrap, "--die-with-parent", "--new-session"]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        args += ["--hostname", "app"]
        if root:
            # bubblewrap sets the sandbox up as root (so it may open the private data
            # dir); `setpriv` inside then becomes SANDBOX_UID with no capabilities left.
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-user"]
        for directory in SYSTEM_DIRS:
            path = Path(directory)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), directory]
            elif path.is_dir():
                args += ["--ro-bind", directory, directory]
        # Private, empty scratch space: these paths are inside the sandbox, not the host's.
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108
        args += ["--tmpfs", "/run", "--dir", "/var", "--perms", "1777", "--tmpfs", "/var/tmp"]  # noqa: S108

        def bind(source: Path, dest: str, writable: bool) -> None:
            fd = os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            fds.append(fd)
            args.extend(["--bind-fd" if writable else "--ro-bind-fd", str(fd), dest])

        bind(sandbox.app_dir, APP_ROOT, sandbox.app_writable)
        for rel, source in sorted(sandbox.mounts.items()):
            bind(source, f"{APP_ROOT}/{rel.strip('/')}", True)
        for dest, source in sorted(sandbox.extra_rw.items()):
            bind(source, dest, True)
        for dest, source in sorted(sandbox.extra_ro.items()):
            bind(source, dest, False)
        # The environment reaches the app through bubblewrap's own environment (the
        # caller starts it with exactly ``sandbox.env``), never through its arguments:
        # a command line is readable by every local user, and values may be secrets.
        args += ["--chdir", sandbox.cwd, "--"]
        if root:
            uid = str(SANDBOX_UID)
            args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            args += ["--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
        yield [*args, *argv], fds
    finally:
        for fd in fds:
            os.close(fd)
