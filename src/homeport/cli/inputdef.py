"""Symfony-style command-line parsing: options anywhere, `--opt=value`, bundled short flags.

argparse would be heavier to import and words its errors differently; scripts and
people expect Symfony Console's messages (`The "--foo" option does not exist.`).
"""

from __future__ import annotations

from homeport.cli.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

FLAG = 0
REQUIRED = 1
OPTIONAL = 2


class Argument:
    """A positional argument."""

    def __init__(
        self,
        name: str,
        description: str = "",
        *,
        required: bool = False,
        is_array: bool = False,
        default: Any = None,
    ) -> None:
        self.name = name
        self.description = description
        self.required = required
        self.is_array = is_array
        self.default = [] if is_array and default is None else default

    def synopsis(self) -> str:
        """`<name>`, `[<name>]`, `<name>...` as in Symfony's usage lines."""
        text = f"<{self.name}>" + ("..." if self.is_array else "")
        return text if self.required else f"[{text}]"


class Option:
    """A `--long` option, with an optional `-x` shortcut."""

    def __init__(
        self,
        name: str,
        shortcut: str = "",
        mode: int = FLAG,
        description: str = "",
        *,
        is_array: bool = False,
        default: Any = None,
        hidden: bool = False,
    ) -> None:
        self.name = name
        self.shortcut = shortcut
        self.mode = mode
        self.description = description
        self.is_array = is_array
        if is_array:
            default = [] if default is None else default
        elif mode == FLAG:
            default = False
        self.default = default
        self.hidden = hidden

    def synopsis(self) -> str:
        """`[-x|--name NAME]` style."""
        text = (f"-{self.shortcut}|" if self.shortcut else "") + f"--{self.name}"
        if self.mode == REQUIRED:
            text += f" {self.name.upper().replace('-', '_')}"
        elif self.mode == OPTIONAL:
            text += f" [{self.name.upper().replace('-', '_')}]"
        if self.is_array:
            text += "..."
        return f"[{text}]"


class Definition:
    """The arguments and options a command accepts."""

    def __init__(self) -> None:
        self.arguments: list[Argument] = []
        self.options: dict[str, Option] = {}
        self.shortcuts: dict[str, str] = {}

    def argument(self, name: str, description: str = "", **kwargs: Any) -> None:
        """Add a positional argument."""
        self.arguments.append(Argument(name, description, **kwargs))

    def option(
        self, name: str, shortcut: str = "", mode: int = FLAG, description: str = "", **kwargs: Any
    ) -> None:
        """Add an option (later definitions of the same name replace earlier ones)."""
        old = self.options.get(name)
        if old is not None and old.shortcut:
            self.shortcuts.pop(old.shortcut, None)
        opt = Option(name, shortcut, mode, description, **kwargs)
        if shortcut in self.shortcuts:
            # A command's own shortcut wins over a global one (e.g. -W, -c).
            other = self.options[self.shortcuts[shortcut]]
            other.shortcut = ""
        self.options[name] = opt
        if shortcut:
            self.shortcuts[shortcut] = name

    def synopsis(self, short: bool = False) -> str:
        """The usage line after the command name."""
        parts: list[str] = []
        if short:
            parts.append("[options]")
        else:
            parts.extend(o.synopsis() for o in self.options.values() if not o.hidden)
        if self.arguments:
            parts.append("[--]")
            parts.extend(a.synopsis() for a in self.arguments)
        return " ".join(parts)


class Input:
    """Parsed arguments and options; `given` records options typed on the command line."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.arguments: dict[str, Any] = {a.name: a.default for a in definition.arguments}
        self.options: dict[str, Any] = {
            n: (list(o.default) if o.is_array else o.default) for n, o in definition.options.items()
        }
        self.given: set[str] = set()

    def arg(self, name: str) -> Any:
        """An argument's value (a list for array arguments, None when absent)."""
        return self.arguments[name]

    def opt(self, name: str) -> Any:
        """An option's value (False/True for flags, a list for array options)."""
        return self.options[name]

    def str_opt(self, name: str) -> str | None:
        """A value option as a string, or None when not given."""
        value = self.options[name]
        return None if value is None or value is False else str(value)

    def has(self, name: str) -> bool:
        """True when the option was given on the command line."""
        return name in self.given

    def list_opt(self, name: str) -> list[str]:
        """An array option, with each value also split on commas and whitespace."""
        result: list[str] = []
        for value in self.options[name] or []:
            for piece in str(value).replace(",", " ").split():
                result.append(piece)
        return result


def parse(tokens: Sequence[str], definition: Definition) -> Input:
    """Parse `tokens` (the command line after the program name) against `definition`."""
    result = Input(definition)
    positional: list[str] = []
    rest = list(tokens)
    only_args = False
    while rest:
        arg = rest.pop(0)
        if only_args:
            positional.append(arg)
        elif arg == "--":
            only_args = True
        elif arg.startswith("--"):
            _long(arg[2:], rest, definition, result)
        elif arg.startswith("-") and arg != "-":
            _short(arg[1:], rest, definition, result)
        else:
            positional.append(arg)
    _assign_arguments(positional, definition, result)
    return result


def _set(opt: Option, value: Any, result: Input) -> None:
    result.given.add(opt.name)
    if opt.is_array:
        result.options[opt.name].append(value)
    else:
        result.options[opt.name] = value


def _long(body: str, rest: list[str], definition: Definition, result: Input) -> None:
    name, eq, value = body.partition("=")
    opt = definition.options.get(name)
    if opt is None:
        raise InvalidArgument(f'The "--{name}" option does not exist.')
    if opt.mode == FLAG:
        if eq:
            raise InvalidArgument(f'The "--{name}" option does not accept a value.')
        _set(opt, True, result)
        return
    if not eq:
        # Like Symfony: the next arg is the value unless it looks like an option.
        if rest and (rest[0] == "" or not rest[0].startswith("-")):
            _set(opt, rest.pop(0), result)
            return
        if opt.mode == REQUIRED:
            raise InvalidArgument(f'The "--{name}" option requires a value.')
        _set(opt, None, result)
        return
    _set(opt, value, result)


def _short(body: str, rest: list[str], definition: Definition, result: Input) -> None:
    index = 0
    while index < len(body):
        char = body[index]
        name = definition.shortcuts.get(char)
        if name is None:
            raise InvalidArgument(f'The "-{char}" option does not exist.')
        opt = definition.options[name]
        if opt.mode == FLAG:
            if name == "verbose":
                result.options["verbose"] = int(result.options.get("verbose") or 0) + 1
                result.given.add(name)
            else:
                _set(opt, True, result)
            index += 1
            continue
        value: str | None = body[index + 1 :]
        if value == "":
            if rest and (rest[0] == "" or not rest[0].startswith("-")):
                value = rest.pop(0)
            elif opt.mode == REQUIRED:
                raise InvalidArgument(f'The "--{name}" option requires a value.')
            else:
                value = None
        elif value is not None and value.startswith("="):
            value = value[1:]
        _set(opt, value, result)
        return


def _assign_arguments(positional: list[str], definition: Definition, result: Input) -> None:
    args = definition.arguments
    index = 0
    for arg in args:
        if arg.is_array:
            result.arguments[arg.name] = positional[index:]
            index = len(positional)
            break
        if index < len(positional):
            result.arguments[arg.name] = positional[index]
            index += 1
    if index < len(positional):
        if not args:
            raise InvalidArgument(f'No arguments expected, got "{positional[index]}".')
        names = '" "'.join(a.name for a in args)
        raise InvalidArgument(f'Too many arguments, expected arguments "{names}".')
    missing = [
        a.name
        for a in args
        if a.required and (result.arguments[a.name] in (None, []) or result.arguments[a.name] == [])
    ]
    if missing:
        raise InvalidArgument(f'Not enough arguments (missing: "{", ".join(missing)}").')


def split_names(values: Iterable[str]) -> list[str]:
    """Split repeated option values on commas and whitespace."""
    out: list[str] = []
    for value in values:
        out.extend(p for p in value.replace(",", " ").split() if p)
    return out
