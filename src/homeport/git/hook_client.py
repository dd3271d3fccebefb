"""The `proc-receive` hook as git runs it: hands its stdin, stdout and stderr to the
running server, which does the work (homeport.git.hook_server).

Run as a plain file with `python -I -S`: standard library only, nothing of Homeport
imported, so a push does not pay for loading the server's modules (about a second on
a small machine). When no server answers, it runs the full hook itself.
"""

import array
import json
import os
import socket
import sys


def _fallback() -> None:
    # No server: the full hook, in this process (the interpreter that git started).
    os.execv(sys.executable, [sys.executable, "-m", "homeport.git.hook", "proc-receive"])  # noqa: S606


def main() -> None:
    """Connect, pass the three descriptors and the environment, exit with the answer."""
    path = os.path.join(os.environ.get("HOMEPORT_DATA_DIR", ""), "git-hook.sock")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        _fallback()
        return
    header = json.dumps(dict(os.environ)).encode()
    fds = array.array("i", [0, 1, 2])
    conn.sendmsg(
        [len(header).to_bytes(4, "big") + header],
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())],
    )
    answer = conn.recv(1)
    conn.close()
    sys.exit(answer[0] if answer else 1)


if __name__ == "__main__":
    main()
