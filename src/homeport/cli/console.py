"""Output streams, verbosity, colours and questions.

Data (tables, property values, tokens) goes to stdout; everything else (messages,
prompts, hints, streamed logs while waiting, errors) goes to stderr, as in the PHP CLI.
Questions follow Symfony's rules: in non-interactive mode a confirmation prints the
question with its default answer and returns that default.
"""

from __future__ import annotations

from homeport.cli.errors import CliError, CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TextIO

    from homeport.cli.env import Environment

QUIET = -1
NORMAL = 0
VERBOSE = 1
VERY_VERBOSE = 2
DEBUG = 3

_STYLES = {
    "error": "37;41",
    "warning": "33",
    "info": "32",
    "comment": "33",
    "question": "36",
    "reverse": "7",
}


def _wants_colour(env: Environment, isatty: bool, forced: bool | None) -> bool:
    if forced is not None:
        return forced
    environ = env.environ
    if environ.get("NO_COLOR") or environ.get("PLATFORMSH_CLI_NO_COLOR"):
        return False
    if environ.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    if environ.get("TERM") == "dumb":
        return False
    return isatty


class Console:
    """The streams of one run, with its verbosity and interaction settings."""

    def __init__(
        self,
        env: Environment,
        *,
        verbosity: int = NORMAL,
        interactive: bool = False,
        answer: bool | None = None,
        colour: bool | None = None,
    ) -> None:
        self.env = env
        self.verbosity = verbosity
        self.interactive = interactive
        # True for -y/--yes, False for --no, None to use the default / ask.
        self.answer = answer
        self.out_colour = _wants_colour(env, env.stdout_isatty, colour)
        self.err_colour = _wants_colour(env, env.stderr_isatty, colour)

    # Writing -------------------------------------------------------------------------

    def _write(self, stream: TextIO, text: str) -> None:
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:
            # A reader such as `head` went away: the rest of the output is unwanted, and
            # pointing the descriptor at /dev/null stops Python complaining at exit.
            import os
            import sys

            if stream is sys.stdout or stream is sys.stderr:
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, stream.fileno())
                except (OSError, ValueError):
                    pass

    def out(self, text: str = "", newline: bool = True) -> None:
        """Write data to stdout (suppressed by -q, like Symfony)."""
        if self.verbosity > QUIET:
            self._write(self.env.stdout, text + ("\n" if newline else ""))

    def err(self, text: str = "", level: int = NORMAL, newline: bool = True) -> None:
        """Write a message to stderr when the verbosity is at least `level`."""
        if self.verbosity >= level and self.verbosity > QUIET:
            self._write(self.env.stderr, text + ("\n" if newline else ""))

    def err_always(self, text: str) -> None:
        """Write to stderr even with -q (errors)."""
        self._write(self.env.stderr, text + "\n")

    def style(self, text: str, style: str, stderr: bool = True) -> str:
        """`text` wrapped in ANSI colour codes when that stream is decorated."""
        enabled = self.err_colour if stderr else self.out_colour
        code = _STYLES.get(style)
        if not enabled or not code or not text:
            return text
        return f"\033[{code}m{text}\033[0m"

    def warn(self, text: str) -> None:
        """A yellow warning line on stderr."""
        self.err(self.style(text, "warning"))

    @property
    def table_width(self) -> int | None:
        """How wide tables may be: None (no wrapping) when stdout is not a terminal.

        `COLUMNS` still applies when set. Piped output is then never wrapped, so IDs,
        dates and words stay on one line for `grep` and `awk`.
        """
        raw = self.env.environ.get("COLUMNS", "")
        if (raw.isdigit() and int(raw) > 0) or self.env.stdout_isatty:
            return self.width
        return None

    @property
    def width(self) -> int:
        """Terminal width for tables: `COLUMNS`, else the terminal's, else 80."""
        raw = self.env.environ.get("COLUMNS", "")
        if raw.isdigit() and int(raw) > 0:
            return int(raw)
        if self.env.stdout_isatty or self.env.stderr_isatty:
            import os

            for stream in (self.env.stdout, self.env.stderr):
                try:
                    return os.get_terminal_size(stream.fileno()).columns
                except (AttributeError, ValueError, OSError):
                    continue
        return 80

    # Questions -----------------------------------------------------------------------

    def _readline(self) -> str:
        line = self.env.stdin.readline()
        if line == "":
            raise CommandFailed("Aborted: no answer was given (end of input).")
        return line.rstrip("\r\n")

    def confirm(self, question: str, default: bool = True) -> bool:
        """Ask a yes/no question on stderr; -y says yes, --no says no, else the default."""
        hint = "[Y/n]" if default else "[y/N]"
        prompt = f"{question} {hint} "
        if self.answer is not None or not self.interactive:
            result = default if self.answer is None else self.answer
            self.err(prompt + ("y" if result else "n"))
            return result
        while True:
            self.err(prompt, newline=False)
            reply = self._readline().strip().lower()
            if reply == "":
                return default
            if reply in ("y", "yes"):
                return True
            if reply in ("n", "no"):
                return False

    def ask(
        self,
        question: str,
        default: str | None = None,
        *,
        hidden: bool = False,
        validator: Callable[[str], str] | None = None,
        attempts: int = 5,
    ) -> str:
        """Ask for text. Non-interactive runs get the default, or an error without one."""
        if not self.interactive:
            if default is None:
                raise CliError(f"Cannot ask in non-interactive mode: {question.strip()}")
            return default
        label = question
        if default not in (None, ""):
            label = f"{question} [{default}]"
        last_error: CliError | None = None
        for _ in range(attempts):
            value = self._read_hidden(label) if hidden else self._ask_line(label)
            if value == "" and default is not None:
                value = default
            if validator is None:
                return value
            try:
                return validator(value)
            except CliError as exc:
                last_error = exc
                self.err(self.style(exc.message, "error"))
        assert last_error is not None
        raise last_error

    def _ask_line(self, label: str) -> str:
        self.err(self.style(label, "question") + " ", newline=False)
        return self._readline().strip()

    def _read_hidden(self, label: str) -> str:
        # Only a real terminal can hide what is typed; piped input is just read.
        if self.env.stdin_isatty:
            import getpass

            return getpass.getpass(label + " ", stream=self.env.stderr).strip()
        self.err(label + " ", newline=False)
        value = self._readline().strip()
        self.err("")
        return value

    def choose(
        self,
        choices: Sequence[tuple[str, str]],
        text: str,
        default: str | None = None,
    ) -> str:
        """Pick one of `choices` (key, label) by number; non-interactive runs take `default`."""
        keys = [key for key, _ in choices]
        if len(choices) == 1 and default is None:
            default = keys[0]
        if not self.interactive:
            if default is None:
                raise CliError(f"Cannot choose in non-interactive mode: {text}")
            return default
        self.err(text)
        for index, (_, label) in enumerate(choices):
            self.err(f"  [{index}] {label}")
        default_index = str(keys.index(default)) if default in keys else None
        while True:
            prompt = " > " if default_index is None else f" [{default_index}] > "
            self.err(prompt, newline=False)
            reply = self._readline().strip()
            if reply == "" and default is not None:
                return default
            if reply.isdigit() and int(reply) < len(keys):
                return keys[int(reply)]
            if reply in keys:
                return reply
            self.err(f'Value "{reply}" is invalid')
