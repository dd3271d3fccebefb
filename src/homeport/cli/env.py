"""The `Environment`: everything a run of the client reads from or writes to the outside.

Commands never touch `sys.stdin`, `os.environ`, the clock or the working directory
directly; they go through this object, so tests can run them in process with
`main(argv, env=Environment(...))` and no global state leaks between runs.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO

    from homeport.cli.config import Config


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _real_sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def _real_clock() -> float:
    import time

    return time.time()


class Environment:
    """Streams, environment variables, working directory, clock and configuration."""

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin_isatty: bool | None = None,
        stdout_isatty: bool | None = None,
        stderr_isatty: bool | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        config: Config | None = None,
    ) -> None:
        self.stdin: TextIO = stdin if stdin is not None else sys.stdin
        self.stdout: TextIO = stdout if stdout is not None else sys.stdout
        self.stderr: TextIO = stderr if stderr is not None else sys.stderr
        self.environ: Mapping[str, str] = dict(os.environ) if environ is None else environ
        self.cwd: str = cwd if cwd is not None else os.getcwd()
        self.stdin_isatty = _isatty(self.stdin) if stdin_isatty is None else stdin_isatty
        self.stdout_isatty = _isatty(self.stdout) if stdout_isatty is None else stdout_isatty
        self.stderr_isatty = _isatty(self.stderr) if stderr_isatty is None else stderr_isatty
        self.sleep: Callable[[float], None] = sleep if sleep is not None else _real_sleep
        self.clock: Callable[[], float] = clock if clock is not None else _real_clock
        self._config = config

    @property
    def config(self) -> Config:
        """The configuration, loaded on first use from files and `self.environ`."""
        if self._config is None:
            from homeport.cli.config import Config

            self._config = Config.load(self.environ)
        return self._config

    def get(self, name: str, default: str = "") -> str:
        """An environment variable, or `default` when unset."""
        return self.environ.get(name, default)
