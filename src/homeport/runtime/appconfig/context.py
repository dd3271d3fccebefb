"""Where a value came from, and the typed reads that report what is wrong with it.

Every error and warning line has the shape ``<file>:<line>: <key path>: <message>``,
so a pusher can go straight to the line to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]


# Keys shown bare in a key path; others (`/static`, `https://{default}/`) are quoted.
_BARE_KEY = re.compile(r"^[^./\[\]'\"\s]+$")


def key_path(path: Path) -> str:
    """``("web", "commands", "start")`` → ``web.commands.start``; list items as
    ``[0]``, keys with dots or slashes as ``['/static']``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _BARE_KEY.match(part):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Issues:
    """Errors and warnings gathered over every file, so one push reports them all."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Document:
    """A parsed YAML file: plain Python data plus the line of every key path."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Ctx:
    """A view of one document below ``prefix`` (an app inside applications.yaml,
    say); paths given to its methods are relative to that prefix."""

    doc: Document
    issues: Issues
    prefix: Path = ()

    def sub(self, *path: str | int) -> Ctx:
        """The same document seen from one level deeper."""
        return Ctx(self.doc, self.issues, self.prefix + path)

    def line(self, path: Path = ()) -> int:
        """The line of ``path``, or of its nearest ancestor the file has (a missing
        key is reported at the mapping that should hold it)."""
        full = self.prefix + path
        while True:
            if full in self.doc.lines:
                return self.doc.lines[full]
            if not full:
                return 1
            full = full[:-1]

    def _where(self, path: Path, line_of: Path | None = None) -> str:
        label = key_path(self.prefix + path)
        at = f"{self.doc.file}:{self.line(path if line_of is None else line_of)}"
        return f"{at}: {label}" if label else at

    def error(self, path: Path, message: str) -> None:
        """Record an error about ``path``."""
        self.issues.errors.append(f"{self._where(path)}: {message}")

    def warn(self, path: Path, message: str, *, line_of: Path | None = None) -> None:
        """Record a warning about ``path`` (at the line of ``line_of`` when given)."""
        self.issues.warnings.append(f"{self._where(path, line_of)}: {message}")

    # --- typed reads: each returns None (after recording an error) on a wrong type ---

    def string(self, value: Any, path: Path, *, required: bool = False) -> str | None:
        """``value`` if it is a string; a missing (None) value is an error only if required."""
        if value is None:
            if required:
                self.error(path, "required")
            return None
        if not isinstance(value, str):
            self.error(path, "expected a string")
            return None
        return value

    def text(self, value: Any, path: Path) -> str | None:
        """A string where YAML may have typed the scalar (``4`` for a version, ``8.1``
        for a name): numbers are taken as written. Booleans are still an error."""
        if isinstance(value, bool):
            self.error(path, "expected a string")
            return None
        if isinstance(value, int | float):
            return str(value)
        return self.string(value, path)

    def integer(self, value: Any, path: Path, *, minimum: int | None = None) -> int | None:
        """``value`` if it is an integer (booleans are not), and at least ``minimum``."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, "expected an integer")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return value

    def boolean(self, value: Any, path: Path) -> bool | None:
        """``value`` if it is true or false."""
        if value is None:
            return None
        if not isinstance(value, bool):
            self.error(path, "expected true or false")
            return None
        return value

    def mapping(self, value: Any, path: Path, *, required: bool = False) -> dict[str, Any] | None:
        """``value`` if it is a mapping. An empty YAML value (``key:``) is None, which
        callers treat as absent: that is how people write "nothing here yet"."""
        if value is None:
            if required:
                self.error(path, "required")
            return None
        if not isinstance(value, dict):
            self.error(path, "expected a mapping")
            return None
        return value

    def choice(
        self, value: Any, path: Path, allowed: tuple[str, ...], *, required: bool = False
    ) -> str | None:
        """``value`` if it is one of ``allowed``."""
        text = self.string(value, path, required=required)
        if text is None:
            return None
        if text not in allowed:
            self.error(path, f"expected one of {', '.join(allowed)}, not {text!r}")
            return None
        return text

    def known_keys(self, mapping: dict[str, Any], path: Path, known: frozenset[str]) -> None:
        """Warn (without failing) about keys this server neither uses nor knows."""
        for key in mapping:
            if key not in known:
                self.warn(path, f"unknown key {key!r} (ignored)", line_of=(*path, key))


def relative_path(path: str) -> str | None:
    """``path`` as a clean relative path ("" for the top), or None when it climbs
    above its starting point. A leading ``/`` means "from the top", as in mounts."""
    if "\0" in path or "\\" in path:
        return None
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
