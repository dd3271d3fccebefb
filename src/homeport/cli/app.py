"""The application: global options, command lookup, dispatch and error rendering."""

from __future__ import annotations

from homeport.cli import console as con
from homeport.cli.errors import CliError
from homeport.cli.exitcodes import ExitCode
from homeport.cli.helptext import add_global_options
from homeport.cli.inputdef import Definition, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeport.cli.api import Api
    from homeport.cli.commands.base import Command
    from homeport.cli.env import Environment
    from homeport.cli.registry import Spec


class Settings:
    """Global flags, read from the raw arguments before (and after) full parsing."""

    def __init__(self) -> None:
        self.verbosity = con.NORMAL
        self.quiet = False
        self.yes = False
        self.no = False
        self.no_interaction = False
        self.colour: bool | None = None
        self.help = False

    @classmethod
    def scan(cls, args: Sequence[str], env: Environment) -> Settings:
        """Best-effort reading of global flags, so even parse errors are shown right."""
        s = cls()
        shell = env.environ.get("SHELL_VERBOSITY", "")
        if shell.lstrip("-").isdigit():
            s.verbosity = max(-1, min(3, int(shell)))
        debug = env.environ.get("PLATFORMSH_CLI_DEBUG", "")
        if debug not in ("", "0"):
            s.verbosity = con.DEBUG
        for arg in args:
            if arg == "--":
                break
            if arg in ("--quiet",):
                s.quiet = True
            elif arg == "--verbose":
                s.verbosity = max(s.verbosity, 1)
            elif arg.startswith("--verbose="):
                value = arg.partition("=")[2]
                s.verbosity = max(s.verbosity, int(value) if value.isdigit() else 1)
            elif arg == "--yes":
                s.yes = True
            elif arg == "--no":
                s.no = True
            elif arg == "--no-interaction":
                s.no_interaction = True
            elif arg == "--ansi":
                s.colour = True
            elif arg == "--no-ansi":
                s.colour = False
            elif arg == "--help":
                s.help = True
            elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
                letters = arg[1:]
                if set(letters) <= set("qvyhn"):
                    s.verbosity = max(s.verbosity, letters.count("v"))
                    s.quiet = s.quiet or "q" in letters
                    s.yes = s.yes or "y" in letters
                    s.no = s.no or "n" in letters
                    s.help = s.help or "h" in letters
        if s.quiet:
            s.verbosity = con.QUIET
        return s

    def interactive(self, env: Environment) -> bool:
        """Symfony's rules: flags, the env variable, then whether stdin is a terminal."""
        if self.quiet or self.yes or self.no or self.no_interaction:
            return False
        if env.environ.get("PLATFORMSH_CLI_NO_INTERACTION", ""):
            return False
        return env.stdin_isatty or bool(env.environ.get("SHELL_INTERACTIVE", ""))


class Application:
    """One run of the client."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.console = con.Console(env)
        self._api: Api | None = None
        self.command_name = ""
        self.definition: Definition | None = None

    @property
    def api(self) -> Api:
        """The API client, created on first use."""
        if self._api is None:
            from homeport.cli.api import Api

            self._api = Api(self.env, self.env.config, self.console)
        return self._api

    def run(self, args: Sequence[str]) -> int:
        """Run one command line; returns the exit status."""
        settings = Settings.scan(args, self.env)
        self.console = con.Console(
            self.env,
            verbosity=settings.verbosity,
            interactive=settings.interactive(self.env),
            answer=True if settings.yes else (False if settings.no else None),
            colour=settings.colour,
        )
        try:
            return self._dispatch(list(args), settings)
        except CliError as exc:
            self.render_error(exc)
            return int(exc.exit_code)
        except KeyboardInterrupt:
            self.console.err_always("")
            return 130
        except Exception as exc:  # an unexpected bug: one clear line, details with -vvv
            if self.console.verbosity >= con.DEBUG:
                import traceback

                self.console.err_always(traceback.format_exc().rstrip())
            self.render_error(
                CliError(
                    f"Unexpected error: {type(exc).__name__}: {exc}\n"
                    "Run the command again with -vvv for details."
                )
            )
            return int(ExitCode.GENERAL)

    def _dispatch(self, args: list[str], settings: Settings) -> int:
        from homeport.cli import registry

        name, index = "", -1
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if not arg.startswith("-"):
                name, index = arg, i
                break
        rest = args[:index] + args[index + 1 :] if index >= 0 else list(args)
        if not name:
            if settings.help:
                name, rest = "help", [t for t in rest if t not in ("-h", "--help")]
            else:
                name = "list"
        spec = registry.find(name)
        command = self.load(spec)
        definition = Definition()
        add_global_options(definition)
        command.configure(definition)
        self.command_name = spec.name
        self.definition = definition
        if settings.help and spec.name != "help":
            from homeport.cli.helptext import render_help

            exe = self.env.config.executable
            help_text = command.help_text.format(exe=exe)
            self.console.out(render_help(spec, definition, exe, help_text), False)
            return int(ExitCode.OK)
        if "-n" in rest:
            self.console.err(
                'Warning: the -n option is deprecated: use --no to answer "no", '
                "or --no-interaction."
            )
        command.input = parse(rest, definition)
        if spec.name not in ("help", "list"):
            self._container_warning()
        return int(command.execute())

    def load(self, spec: Spec) -> Command:
        """Import the command's module (only now) and instantiate it."""
        import importlib

        module_name, _, class_name = spec.target.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        command: Command = cls(self, spec)
        return command

    def _container_warning(self) -> None:
        prefix = self.env.config.env_prefix
        environ = self.env.environ
        if not all(environ.get(prefix + k) for k in ("PROJECT", "BRANCH", "TREE_ID")):
            return
        config = self.env.config
        if not (config.api_token or config.api_token_file or config.access_token):
            return
        self.console.warn(
            "Warning:\nAn API token is set. Anyone with SSH access to this environment can "
            "read the token.\nPlease ensure the token only has strictly necessary access."
        )

    def render_error(self, exc: CliError) -> None:
        """Write an error to stderr: a plain line, or a Symfony-style block."""
        console = self.console
        if exc.plain:
            console.err_always(
                console.style(exc.message, "error") if console.err_colour else exc.message
            )
        else:
            title = exc.title
            if console.verbosity >= con.VERBOSE and exc.exit_code:
                title += f" ({int(exc.exit_code)})"
            lines = [f"[{title}]", *exc.message.split("\n")]
            if console.err_colour:
                width = max(len(line) for line in lines) + 4
                block = ["", " " * width]
                block += [("  " + line).ljust(width) for line in lines]
                block += [" " * width]
                console.err_always(
                    "\n".join(console.style(b, "error") if b else b for b in block) + "\n"
                )
            else:
                console.err_always(
                    "\n" + "\n".join(("  " + line).rstrip() for line in lines) + "\n"
                )
        if exc.show_usage and self.command_name and self.definition is not None:
            exe = self.env.config.executable
            usage = f"{exe} {self.command_name} {self.definition.synopsis(short=True)}".rstrip()
            console.err_always(f"Usage: {usage}")
            console.err_always("")
            console.err_always(f"For more information, type: {exe} help {self.command_name}")


def run(args: Sequence[str], env: Environment | None = None) -> int:
    """Run the client for `args` in `env` (a fresh process environment by default)."""
    if env is None:
        from homeport.cli.env import Environment

        env = Environment()
    app = Application(env)
    return app.run(args)
