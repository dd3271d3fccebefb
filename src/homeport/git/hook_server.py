"""The server side of the git hook: a unix socket in the data dir where
`hook_client` hands over a push's pipes, so the policy check and the push record run
in the already-loaded server instead of a fresh interpreter per push."""

from __future__ import annotations

import array
import contextlib
import io
import json
import logging
import os
import socket
import threading
from pathlib import Path

from homeport.git.hook import proc_receive

log = logging.getLogger(__name__)

SOCKET_NAME = "git-hook.sock"
MAX_HEADER = 1024 * 1024


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("hook client went away")
        data += chunk
    return data


class HookServer:
    """Accepts hook clients and runs `proc_receive` for each on a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SOCKET_NAME
        self.sock: socket.socket | None = None

    def start(self) -> HookServer:
        """Listen (the socket is the server user's alone) and serve in the background."""
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(64)
        self.sock = sock
        threading.Thread(target=self._accept, name="git-hooks", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening (pushes in progress finish on their threads)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while self.sock is not None:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        fds: list[int] = []
        code = 1
        try:
            head, ancillary, _flags, _addr = conn.recvmsg(4, socket.CMSG_SPACE(3 * 4))
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    usable = data[: len(data) - len(data) % 4]
                    fds.extend(array.array("i", usable))
            head += _recv_exact(conn, 4 - len(head))
            size = int.from_bytes(head, "big")
            if len(fds) != 3 or not 0 < size <= MAX_HEADER:
                raise ValueError("not a hook client")
            env = json.loads(_recv_exact(conn, size))
            if not isinstance(env, dict):
                raise ValueError("bad environment")
            # Each descriptor leaves the list as a file takes it over, so none is ever
            # closed twice (a number closed twice may already be another thread's).
            reader = open(fds.pop(0), "rb")  # noqa: SIM115 - closed by the block below
            writer = open(fds.pop(0), "wb", buffering=0)  # noqa: SIM115
            err = io.TextIOWrapper(open(fds.pop(0), "wb"), write_through=True)  # noqa: SIM115
            with reader, writer, err:
                hook_env = {str(k): str(v) for k, v in env.items()}
                code = proc_receive(reader, writer, err, hook_env)
        except Exception:
            log.exception("git hook failed")
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                conn.sendall(bytes([code & 0xFF]))
            conn.close()
