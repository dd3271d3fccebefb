"""Help text shared by the application and the `help` command: the global options
every command accepts, and a command's help page."""

from __future__ import annotations

from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from homeport.cli.registry import Spec


def add_global_options(d: Definition) -> None:
    """The options every command accepts (Symfony's plus the CLI's -y/--no)."""
    d.option("help", "h", FLAG, "Display this help message")
    d.option("quiet", "q", FLAG, "Do not output any message")
    d.option(
        "verbose",
        "v",
        FLAG,
        "Increase the verbosity of messages: 1 for normal output, 2 for more verbose "
        "output and 3 for debug",
    )
    d.option("version", "V", FLAG, "Display this application version")
    d.option(
        "yes",
        "y",
        FLAG,
        'Answer "yes" to confirmation questions; accept the default value for other '
        "questions; disable interaction",
    )
    d.option(
        "no",
        "n",
        FLAG,
        'Answer "no" to confirmation questions; accept the default value for other '
        "questions; disable interaction",
        hidden=True,
    )
    d.option(
        "no-interaction",
        "",
        FLAG,
        "Do not ask any interactive questions; accept default values. Equivalent to "
        "using the environment variable: PLATFORMSH_CLI_NO_INTERACTION=1",
    )
    d.option("ansi", "", FLAG, "Force ANSI output")
    d.option("no-ansi", "", FLAG, "Disable ANSI output")


def _option_label(name: str, shortcut: str, mode: int) -> str:
    text = (f"-{shortcut}, " if shortcut else "    ") + f"--{name}"
    placeholder = name.upper().replace("-", "_")
    if mode == REQUIRED:
        text += f"={placeholder}"
    elif mode != FLAG:
        text += f"[={placeholder}]"
    return text


def render_help(spec: Spec, definition: Definition, exe: str, help_text: str = "") -> str:
    """A command's help page: description, usage, aliases, arguments, options, help."""
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
    if help_text:
        lines += ["", "Help:"] + [f"  {line}".rstrip() for line in help_text.splitlines()]
    return "\n".join(lines) + "\n"
