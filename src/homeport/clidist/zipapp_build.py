"""Pack the `platform` client into a zip application (`platform.pyz`).

The archive holds `homeport/cli/**.py`, a stand-in `homeport/__init__.py` that only
carries the version (the client reads `homeport.__version__` for `--version`), and a
`__main__.py` that calls `homeport.cli.main:main`. Nothing of the server goes in, so
the file runs on any Python 3.11+ with only the standard library:
`python3 -I platform.pyz --version`.

The bytes are deterministic (sorted entries, one fixed timestamp, fixed permissions)
so that the server's ETag stays the same for the same client code.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipapp
import zipfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import homeport

INTERPRETER = "/usr/bin/env python3"
ARCHIVE_NAME = "platform.pyz"
# The earliest date a zip entry can carry; any fixed value would do, this one is
# conventional for reproducible archives and independent of the build host's clock.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--, whatever the umask of the machine that builds it.
FILE_MODE = 0o100644

_MAIN = '''"""Entry point of the `platform` zip application."""

import sys

from homeport.cli.main import main

sys.exit(main())
'''

_INIT_TEMPLATE = '''"""Stand-in for Homeport's top-level package in the `platform` zip application.

Only the client (`homeport.cli`) is packed; this module carries the version it prints.
"""

__version__ = {version!r}
'''


def _client_sources() -> list[tuple[str, bytes]]:
    """`(archive name, content)` of every `.py` file of `homeport.cli`, sorted by name.

    Read through `importlib.resources` so that it also works when Homeport itself is
    installed from a zip or wheel rather than a source tree.
    """
    found: list[tuple[str, bytes]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".py"):
                found.append((prefix + child.name, child.read_bytes()))

    walk(resources.files("homeport.cli"), "homeport/cli/")
    return sorted(found)


def _entries() -> list[tuple[str, bytes]]:
    init = _INIT_TEMPLATE.format(version=homeport.__version__).encode()
    return sorted(
        [("__main__.py", _MAIN.encode()), ("homeport/__init__.py", init), *_client_sources()]
    )


def _zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = FILE_MODE << 16
            # ZipInfo records the building OS; pin it so Windows and Unix builds agree.
            info.create_system = 3
            archive.writestr(info, content)
    return buffer.getvalue()


def cli_zipapp_bytes() -> bytes:
    """The complete `platform.pyz`: shebang line followed by the zip archive."""
    archive = io.BytesIO(_zip_bytes(_entries()))
    out = io.BytesIO()
    # zipapp copies an existing archive and puts the interpreter line in front; we give
    # it a prepared archive because building from a directory would record the files'
    # mtimes and modes, which differ between checkouts and time zones.
    zipapp.create_archive(archive, out, interpreter=INTERPRETER)
    return out.getvalue()


def etag_for(payload: bytes) -> str:
    """A strong HTTP entity tag for `payload` (a quoted SHA-256 prefix)."""
    return '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'


def build_cli_zipapp(dest: Path) -> Path:
    """Write the `platform` zip application to `dest` and return its path.

    `dest` is the file to write, or an existing directory to write `platform.pyz` in.
    The file is replaced atomically and made executable (its shebang is
    `#!/usr/bin/env python3`).
    """
    target = dest / ARCHIVE_NAME if dest.is_dir() else dest
    payload = cli_zipapp_bytes()
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(payload)
        partial.chmod(0o755)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
