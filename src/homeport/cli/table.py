"""Tables in Symfony's ASCII style (wrapped to the terminal width), CSV, TSV and plain."""

from __future__ import annotations

import re

from homeport.cli.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

FORMATS = ("table", "csv", "tsv", "plain")
# Columns are never squeezed below this many characters when wrapping to the terminal.
MIN_COLUMN_WIDTH = 6
# Columns of text with spaces give way first, but not below this width.
SOFT_MIN_WIDTH = 15


def check_format(fmt: str) -> str:
    """`fmt` if it is a supported format, else the PHP CLI's error."""
    if fmt not in FORMATS:
        raise InvalidArgument(f'Invalid format: "{fmt}". Supported formats: {", ".join(FORMATS)}')
    return fmt


def _pattern(token: str) -> re.Pattern[str]:
    parts = re.split(r"([%*])", token)
    regex = "".join(".*" if p in ("%", "*") else re.escape(p) for p in parts)
    return re.compile(regex, re.IGNORECASE)


def resolve_columns(
    available: Sequence[tuple[str, str]], defaults: Sequence[str], requested: Sequence[str]
) -> list[str]:
    """Column keys to show for `-c` values: `+` means the defaults, `%`/`*` are wildcards."""
    if not requested:
        return list(defaults)
    chosen: list[str] = []

    def add(key: str) -> None:
        if key not in chosen:
            chosen.append(key)

    for raw in requested:
        token = raw.strip()
        if token.startswith("+"):
            for key in defaults:
                add(key)
            token = token[1:]
        if not token:
            continue
        pattern = _pattern(token)
        matches = [k for k, label in available if pattern.fullmatch(k) or pattern.fullmatch(label)]
        if not matches:
            names = ", ".join(k for k, _ in available)
            raise InvalidArgument(f"Column not found: {token} (available columns: {names})")
        for key in matches:
            add(key)
    return chosen


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        lines.extend(
            textwrap.wrap(line, width, break_long_words=True, break_on_hyphens=False) or [""]
        )
    return lines


def _shrink(widths: list[int], floors: list[int], excess: int) -> int:
    """Take up to `excess` characters from the widest columns above their floors."""
    while excess > 0:
        index = max(range(len(widths)), key=lambda i: (widths[i] > floors[i], widths[i]))
        if widths[index] <= floors[index]:
            break
        widths[index] -= 1
        excess -= 1
    return excess


def _fit(natural: list[int], room: int, wrappable: list[bool]) -> list[int]:
    """Narrow columns until the table fits in `room` characters.

    Text with spaces wraps well, so those columns give way first (down to
    `SOFT_MIN_WIDTH`); only then are all columns narrowed, widest first, down to
    `MIN_COLUMN_WIDTH`. IDs and dates therefore stay whole when there is any room.
    """
    widths = list(natural)
    excess = sum(widths) - room
    soft = [
        min(n, SOFT_MIN_WIDTH) if wrap else n for n, wrap in zip(natural, wrappable, strict=True)
    ]
    excess = _shrink(widths, soft, excess)
    _shrink(widths, [min(n, MIN_COLUMN_WIDTH) for n in natural], excess)
    return widths


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    max_width: int | None,
    show_header: bool = True,
) -> str:
    """An ASCII table like Symfony's default style, wrapping cells to `max_width`.

    With `max_width` None cells are never wrapped (output that is not a terminal).
    """
    count = len(headers)
    grid = [list(headers)] + [list(r) for r in rows] if show_header else [list(r) for r in rows]
    natural = [0] * count
    wrappable = [False] * count
    for row in grid[1:] if show_header else grid:
        for i in range(count):
            wrappable[i] = wrappable[i] or " " in (row[i] if i < len(row) else "")
    for row in grid:
        for i in range(count):
            for line in (row[i] if i < len(row) else "").split("\n"):
                natural[i] = max(natural[i], len(line))
    overhead = 3 * count + 1
    widths = natural
    if max_width is not None and sum(natural) + overhead > max_width:
        widths = _fit(natural, max_width - overhead, wrappable)
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [border]

    def emit(row: Sequence[str]) -> None:
        cells = [_wrap(row[i] if i < len(row) else "", widths[i]) for i in range(count)]
        height = max(len(c) for c in cells) if cells else 1
        for line_no in range(height):
            parts = []
            for i in range(count):
                text = cells[i][line_no] if line_no < len(cells[i]) else ""
                parts.append(" " + text.ljust(widths[i]) + " ")
            out.append("|" + "|".join(parts) + "|")

    body = grid
    if show_header:
        emit(grid[0])
        out.append(border)
        body = grid[1:]
    for row in body:
        emit(row)
    if body or not show_header:
        out.append(border)
    return "\n".join(out) + "\n"


def _quote(value: str, delimiter: str) -> str:
    if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    fmt: str,
    *,
    show_header: bool = True,
    max_width: int | None = 80,
) -> str:
    """Rows in one of the supported formats."""
    if fmt == "table":
        return render_table(headers, rows, max_width, show_header)
    lines: list[Sequence[str]] = ([headers] if show_header else []) + list(rows)
    if fmt == "plain":
        return "".join(
            "\t".join(re.sub(r"[\r\n\t]+", " ", cell) for cell in line) + "\n" for line in lines
        )
    delimiter = "," if fmt == "csv" else "\t"
    return "".join(
        delimiter.join(_quote(cell, delimiter) for cell in line) + "\n" for line in lines
    )
