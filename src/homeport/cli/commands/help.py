"""`help` and `list`: described from the registry, importing only what is shown."""

from __future__ import annotations

from homeport.cli.commands.base import Command
from homeport.cli.errors import CliError
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from homeport.cli.registry import Spec


def _option_label(name: str, shortcut: str, mode: int) -> str:
    text = (f"-{shortcut}, " if shortcut else "    ") + f"--{name}"
    placeholder = name.upper().replace("-", "_")
    if mode == REQUIRED:
        text += f"={placeholder}"
    elif mode != FLAG:
        text += f"[={placeholder}]"
    return text


def render_help(spec: Spec, definition: Definition, exe: str) -> str:
    """A command's help page: description, usage, aliases, arguments and options."""
    lines = [f"Command: {spec.name}"]
    if spec.aliases:
        lines.append(f"Aliases: {', '.join(spec.aliases)}")
    lines.append(f"Description: {spec.description}")
    lines += ["", "Usage:", f" {exe} {spec.name} {definition.synopsis()}".rstrip()]
    if definition.arguments:
        lines += ["", "Arguments:"]
        width = max(len(a.name) for a in definition.arguments) + 2
        for arg in definition.arguments:
            lines.append(f"  {arg.name.ljust(width)}{arg.description}".rstrip())
    options = [o for o in definition.options.values() if not o.hidden]
    if options:
        lines += ["", "Options:"]
        labels = [_option_label(o.name, o.shortcut, o.mode) for o in options]
        width = max(len(label) for label in labels) + 2
        for opt, label in zip(options, labels, strict=True):
            text = opt.description
            if opt.mode != FLAG and opt.default not in (None, [], False):
                text += f' [default: "{opt.default}"]'
            if opt.is_array:
                text += " (multiple values allowed)"
            lines.append(f"  {label.ljust(width)}{text}".rstrip())
    return "\n".join(lines) + "\n"


class Help(Command):
    """`help [command]`."""

    def configure(self, d: Definition) -> None:
        d.argument("command_name", "The command name", default="help")

    def execute(self) -> int:
        from homeport.cli import registry
        from homeport.cli.app import add_global_options

        spec = registry.find(str(self.input.arg("command_name") or "help"))
        command = self.app.load(spec)
        definition = Definition()
        add_global_options(definition)
        command.configure(definition)
        self.console.out(render_help(spec, definition, self.exe), newline=False)
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
