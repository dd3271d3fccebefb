"""A small YAML subset: enough for `config.yaml`, `.platform/local/project.yaml` and output.

Supported when reading: block mappings and sequences by indentation, `- key: value`
items, plain, single- and double-quoted scalars, flow `[a, b]` / `{a: b}`, `|` and `>`
block scalars, comments and a leading `---`. Anything fancier (anchors, tags, multi-
document streams) is out of scope: the client must not depend on PyYAML.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?([0-9][0-9_]*)?\.[0-9]+([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


class YamlError(ValueError):
    """The text is not in the supported YAML subset."""


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _find_colon(text: str) -> int:
    """Index of the key/value separator (`: ` or a trailing `:`) outside quotes, or -1."""
    quote = ""
    depth = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or text[i - 1] in " \t[{,"):
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == ":" and depth == 0 and (i + 1 == len(text) or text[i + 1] in " \t"):
            return i
    return -1


def _unquote_double(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise YamlError(f"Invalid double-quoted string: {text}") from exc
    if not isinstance(value, str):
        raise YamlError(f"Invalid double-quoted string: {text}")
    return value


def scalar(text: str) -> Any:
    """The value of one plain or quoted scalar (or flow collection)."""
    text = text.strip()
    if text in _NULLS:
        return None
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise YamlError(f"Unterminated string: {text}")
        return text[1:-1].replace("''", "'")
    if text[0] == '"':
        return _unquote_double(text)
    if text[0] in "[{":
        value, end = _Flow(text).parse(0)
        if text[end:].strip():
            raise YamlError(f"Unexpected text after flow collection: {text}")
        return value
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text):
        return int(text.replace("_", ""))
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    return text


class _Flow:
    """Parser for flow collections such as `[a, 'b c', {d: 1}]`."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        return i

    def parse(self, i: int) -> tuple[Any, int]:
        """The value starting at index `i`, and the index just after it."""
        i = self._skip(i)
        if i >= len(self.text):
            raise YamlError("Unexpected end of flow collection")
        ch = self.text[i]
        if ch == "[":
            return self._seq(i + 1)
        if ch == "{":
            return self._map(i + 1)
        return self._scalar(i)

    def _scalar(self, i: int, stops: str = ",]}") -> tuple[Any, int]:
        ch = self.text[i]
        if ch in "'\"":
            j = i + 1
            while j < len(self.text):
                if self.text[j] == ch:
                    if ch == "'" and self.text[j + 1 : j + 2] == "'":
                        j += 2
                        continue
                    break
                if ch == '"' and self.text[j] == "\\":
                    j += 1
                j += 1
            return scalar(self.text[i : j + 1]), j + 1
        j = i
        while j < len(self.text) and self.text[j] not in stops:
            if self.text[j] == ":" and self.text[j + 1 : j + 2] in (" ", ""):
                break
            j += 1
        return scalar(self.text[i:j]), j

    def _seq(self, i: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        i = self._skip(i)
        if self.text[i : i + 1] == "]":
            return items, i + 1
        while True:
            value, i = self.parse(i)
            items.append(value)
            i = self._skip(i)
            if self.text[i : i + 1] == ",":
                i += 1
            elif self.text[i : i + 1] == "]":
                return items, i + 1
            else:
                raise YamlError(f"Expected ',' or ']' in: {self.text}")

    def _map(self, i: int) -> tuple[dict[str, Any], int]:
        items: dict[str, Any] = {}
        i = self._skip(i)
        if self.text[i : i + 1] == "}":
            return items, i + 1
        while True:
            i = self._skip(i)
            key, i = self._scalar(i, stops=",}:")
            i = self._skip(i)
            value: Any = None
            if self.text[i : i + 1] == ":":
                value, i = self.parse(i + 1)
            items[str(key)] = value
            i = self._skip(i)
            if self.text[i : i + 1] == ",":
                i += 1
            elif self.text[i : i + 1] == "}":
                return items, i + 1
            else:
                raise YamlError(f"Expected ',' or '}}' in: {self.text}")


class _Block:
    """Indentation-driven parser for block mappings and sequences."""

    def __init__(self, text: str) -> None:
        self.lines = text.replace("\t", "    ").splitlines()
        self.pos = 0

    def _peek(self) -> tuple[int, str] | None:
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            content = _strip_comment(raw)
            if content.strip() and content.strip() not in ("---", "..."):
                return len(content) - len(content.lstrip(" ")), content.strip()
            self.pos += 1
        return None

    def parse(self) -> Any:
        """The whole document's value."""
        head = self._peek()
        if head is None:
            return None
        indent, content = head
        if _is_item(content) or _find_colon(content) >= 0:
            return self._block(indent)
        self.pos += 1
        return scalar(content)

    def _block(self, indent: int) -> Any:
        head = self._peek()
        assert head is not None
        if _is_item(head[1]):
            return self._seq(indent)
        return self._map(indent)

    def _nested(self, parent_indent: int, allow_same_level_seq: bool) -> Any:
        head = self._peek()
        if head is None:
            return None
        indent, content = head
        if indent > parent_indent:
            return self._block(indent)
        if allow_same_level_seq and indent == parent_indent and _is_item(content):
            return self._seq(indent)
        return None

    def _block_scalar(self, indicator: str, parent_indent: int) -> str:
        lines: list[str] = []
        block_indent = -1
        while self.pos < len(self.lines):
            raw = self.lines[self.pos].rstrip()
            if raw.strip():
                ind = len(raw) - len(raw.lstrip(" "))
                if ind <= parent_indent:
                    break
                if block_indent < 0:
                    block_indent = ind
                lines.append(raw[block_indent:])
            else:
                lines.append("")
            self.pos += 1
        while lines and not lines[-1]:
            lines.pop()
        text = " ".join(lines) if indicator.startswith(">") else "\n".join(lines)
        return text if indicator.endswith("-") else text + "\n"

    def _value(self, rest: str, indent: int, in_map: bool) -> Any:
        if rest == "":
            return self._nested(indent, allow_same_level_seq=in_map)
        if rest[0] in "|>":
            return self._block_scalar(rest, indent)
        return scalar(rest)

    def _map(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            head = self._peek()
            if head is None or head[0] < indent:
                return result
            if head[0] > indent:
                raise YamlError(f"Bad indentation on line {self.pos + 1}")
            content = head[1]
            if _is_item(content):
                return result
            colon = _find_colon(content)
            if colon < 0:
                raise YamlError(f"Expected 'key: value' on line {self.pos + 1}")
            key = scalar(content[:colon])
            self.pos += 1
            result[str(key)] = self._value(content[colon + 1 :].strip(), indent, True)

    def _seq(self, indent: int) -> list[Any]:
        result: list[Any] = []
        while True:
            head = self._peek()
            if head is None or head[0] != indent or not _is_item(head[1]):
                return result
            rest = head[1][1:].strip()
            if rest and (_find_colon(rest) >= 0 and rest[0] not in "[{'\""):
                # `- key: value` starts a mapping whose keys line up with `key`.
                offset = indent + (len(head[1]) - len(rest))
                self.lines[self.pos] = " " * offset + rest
                result.append(self._map(offset))
                continue
            self.pos += 1
            result.append(self._value(rest, indent, False))


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def loads(text: str) -> Any:
    """Parse `text` (a YAML document in the supported subset)."""
    return _Block(text).parse()


_RESERVED = re.compile(
    r"(?i:null|~|true|false|yes|no|on|off|y|n)$|[-+]?[0-9][0-9_.eE+-]*$|\.[0-9]|"
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
)


def dump_scalar(value: Any) -> str:
    """One scalar as YAML, quoted when a reader would otherwise see another type."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if any(ch in text for ch in "\n\r\t\\") or any(ord(ch) < 32 for ch in text):
        return json.dumps(text, ensure_ascii=False)
    if (
        text == ""
        or _RESERVED.match(text)
        or text[0] in "-?:,[]{}#&*!|>'\"%@` "
        or text[-1] in " :"
        or ": " in text
        or " #" in text
    ):
        return "'" + text.replace("'", "''") + "'"
    return text


def dumps(value: Any, indent: int = 0) -> str:
    """Block-style YAML for `value`, four spaces per level, ending with a newline."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{  }\n"
        out = []
        for key, item in value.items():
            head = pad + dump_scalar(str(key)) + ":"
            if isinstance(item, dict | list) and item:
                out.append(head + "\n" + dumps(item, indent + 4))
            else:
                out.append(head + " " + _inline(item) + "\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                out.append(pad + "-\n" + dumps(item, indent + 4))
            else:
                out.append(pad + "- " + _inline(item) + "\n")
        return "".join(out)
    return pad + dump_scalar(value) + "\n"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{  }"
            if not value
            else "{ "
            + ", ".join(f"{dump_scalar(str(k))}: {_inline(v)}" for k, v in value.items())
            + " }"
        )
    if isinstance(value, list):
        return "[]" if not value else "[" + ", ".join(_inline(v) for v in value) + "]"
    return dump_scalar(value)
