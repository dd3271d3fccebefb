"""Entry point of the `platform` console script.

`--version` is answered here, before anything else is imported, so that the most
common health check (`platform --version`) costs about as much as starting Python.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeport.cli.env import Environment


def _wants_version(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in ("-V", "--version"):
            return True
    return False


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the client with `argv` (default: `sys.argv[1:]`); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if _wants_version(args):
        from homeport import __version__

        out = sys.stdout if env is None else env.stdout
        out.write(f"Homeport CLI {__version__}\n")
        out.flush()
        return 0
    from homeport.cli.app import run

    return run(args, env)


if __name__ == "__main__":
    sys.exit(main())
