"""Safe, bounded YAML reading that remembers the line of every key.

The files come from whoever can push, so reading them must not be a way to use up
the server: the size, the nesting and alias expansion are all capped, and only
YAML's plain types are built (never Python objects).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from homeport.runtime.appconfig.context import Document, Issues, Path

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 1000
# Values after expanding aliases: far above any real configuration, far below what
# a "billion laughs" document asks for.
MAX_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"


class _LimitExceeded(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(node: Node) -> int:
    mark = node.start_mark
    return mark.line + 1 if mark is not None else 1


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses deep nesting and many aliases before
    building anything (its recursion would otherwise hit Python's own limit)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.homeport_depth = 0
        self.homeport_aliases = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            self.homeport_aliases += 1
            if self.homeport_aliases > MAX_ALIASES:
                raise _LimitExceeded(line, f"more than {MAX_ALIASES} YAML aliases")
            return super().compose_node(parent, index)
        if not isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            return super().compose_node(parent, index)
        self.homeport_depth += 1
        try:
            if self.homeport_depth > MAX_DEPTH:
                raise _LimitExceeded(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.homeport_depth -= 1


class _Converter:
    """Node graph → plain data, recording lines; aliases are expanded here, so the
    expanded size and depth are counted here too (an anchor may even contain an
    alias to itself)."""

    def __init__(self, loader: _BoundedLoader, doc: Document, issues: Issues) -> None:
        self.loader = loader
        self.doc = doc
        self.issues = issues
        self.nodes = 0

    def error(self, node: Node, message: str) -> None:
        self.issues.errors.append(f"{self.doc.file}:{_line(node)}: {message}")

    def convert(self, node: Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _LimitExceeded(
                _line(node), f"more than {MAX_NODES} values (aliases counted as expanded)"
            )
        # Depth counts collections, as the composer does (a scalar adds no level).
        if depth > MAX_DEPTH and not isinstance(node, ScalarNode):
            raise _LimitExceeded(_line(node), f"nested deeper than {MAX_DEPTH} levels")
        self.doc.lines.setdefault(path, _line(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                self.error(node, f"unsupported YAML tag {node.tag!r}")
                return None
            return [
                self.convert(child, (*path, i), depth + 1) for i, child in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            if node.tag != _TAG + "map":
                self.error(node, f"unsupported YAML tag {node.tag!r}")
                return None
            return self.mapping(node, path, depth)
        raise AssertionError(f"unexpected YAML node {node!r}")  # the composer makes no others

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        try:
            if tag == _TAG + "str":
                return node.value
            if tag == _TAG + "null":
                return None
            if tag == _TAG + "bool":
                return self.loader.construct_yaml_bool(node)
            if tag == _TAG + "int":
                return self.loader.construct_yaml_int(node)
            if tag == _TAG + "float":
                return self.loader.construct_yaml_float(node)
        except ValueError:  # e.g. an integer with more digits than Python will convert
            self.error(node, f"invalid number {node.value[:40]!r}")
            return None
        if tag == _TAG + "timestamp":
            # JSON has no dates, and PLATFORM_APPLICATION is JSON: keep what was written.
            return node.value
        self.error(node, f"unsupported YAML tag {tag!r}")
        return None

    def key(self, node: Node) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(node, "mapping keys must be plain scalars")
            return None
        # `80:` or `true:` are keys as written, not numbers or booleans.
        return str(node.value)

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.key(key_node)
            if key is None:
                continue
            if key in out:
                self.error(key_node, f"duplicate key {key!r}")
                continue
            self.doc.lines.setdefault((*path, key), _line(key_node))
            out[key] = self.convert(value_node, (*path, key), depth + 1)
        # `<<: *base` (or a list of them): the mapping's own keys win, then earlier
        # merged mappings over later ones.
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.error(source, "a merge key (<<) expects a mapping or a list of them")
                    continue
                for key, value in self.mapping(source, path, depth).items():
                    out.setdefault(key, value)
        return out


def _decode(file: str, data: bytes, issues: Issues) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issues.errors.append(f"{file}:{line}: not valid UTF-8")
        return None


def load_yaml(file: str, data: bytes, issues: Issues) -> Document | None:
    """``data`` parsed as one YAML document, or None after recording why it cannot
    be (syntax error, too large, too deep, too many aliases). An empty file gives
    a document whose ``data`` is None."""
    if len(data) > MAX_FILE_BYTES:
        issues.errors.append(f"{file}:1: larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
        return None
    text = _decode(file, data, issues)
    if text is None:
        return None
    doc = Document(file, None)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # checks for unprintable characters at once
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Converter(loader, doc, issues).convert(node, (), 1)
    except _LimitExceeded as exc:
        issues.errors.append(f"{file}:{exc.line}: {exc.message}")
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        issues.errors.append(f"{file}:{line}: YAML syntax error: {problem}")
        return None
    except yaml.reader.ReaderError as exc:  # a control character, say
        line = text[: exc.position].count("\n") + 1
        issues.errors.append(f"{file}:{line}: YAML syntax error: {exc.reason}")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    return doc
