"""`help` and `list`: described from the registry, importing only what is shown."""

from __future__ import annotations

from homeport.cli.commands.base import Command
from homeport.cli.errors import CliError
from homeport.cli.helptext import add_global_options, render_help
from homeport.cli.inputdef import FLAG, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from homeport.cli.registry import Spec


class Help(Command):
    """`help [command]`: with no argument, the help of `help` itself (as Symfony does)."""

    help_text = (
        "The help command displays help for a given command:\n\n"
        "  {exe} help list\n\n"
        "To display the list of available commands, please use the list command."
    )

    def configure(self, d: Definition) -> None:
        d.argument("command_name", "The command name", default="help")

    def execute(self) -> int:
        from homeport.cli import registry

        spec = registry.find(str(self.input.arg("command_name") or "help"))
        command = self.app.load(spec)
        definition = Definition()
        add_global_options(definition)
        command.configure(definition)
        text = render_help(spec, definition, self.exe, command.help_text.format(exe=self.exe))
        self.console.out(text, newline=False)
        return 0


class ListCommands(Command):
    """`list [namespace]`: every command with its visible aliases and description."""

    def configure(self, d: Definition) -> None:
        d.argument("namespace", "Only list commands in this namespace")
        d.option("all", "a", FLAG, "Show all commands, including hidden aliases")
        d.option("raw", "", FLAG, "Output the bare command list")

    def execute(self) -> int:
        from homeport import __version__
        from homeport.cli.registry import COMMANDS

        namespace = self.input.arg("namespace")
        specs = [
            s
            for s in COMMANDS
            if not namespace or s.name.startswith(f"{namespace}:") or s.name == namespace
        ]
        if not specs:
            raise CliError(f'There are no commands defined in the "{namespace}" namespace.')
        if self.input.opt("raw"):
            for spec in specs:
                self.console.out(f"{spec.name:<30} {spec.description}")
            return 0
        show_all = bool(self.input.opt("all"))

        def title(spec: Spec) -> str:
            aliases = spec.aliases + (spec.hidden_aliases if show_all else ())
            return spec.name + (f" ({', '.join(aliases)})" if aliases else "")

        width = max(len(title(s)) for s in specs) + 2
        lines = [
            f"{self.config.get('application.name', 'Homeport CLI')} {__version__}",
            "",
            "Usage:",
            "  command [options] [arguments]",
            "",
            "Available commands:",
        ]
        current = None
        for spec in sorted(specs, key=lambda s: (":" in s.name, s.name)):
            group = spec.name.partition(":")[0] if ":" in spec.name else ""
            if group != current and group:
                lines.append(f" {group}")
            current = group
            lines.append(f"  {title(spec).ljust(width)}{spec.description}")
        self.console.out("\n".join(lines))
        return 0
