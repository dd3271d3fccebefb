"""The archive format: member names, limits, tar headers and manifest lines.

Shared by the writer and the reader, which must agree on every byte of a manifest
entry. The format itself is described in the package docstring.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import blake3

FORMAT_NAME = "homeport-backup"
MANIFEST_FORMAT_NAME = "homeport-backup-manifest"
FORMAT_VERSION = 2  # what the writer writes; the reader also reads every older version
HEADER_MEMBER = "homeport-backup.json"
MANIFEST_MEMBER = "MANIFEST.json"
DATA_MEMBER = "data"
DEFAULT_LEVEL = 1
CHUNK = 1 << 20
BLOCK = 512
RECORD = 20 * BLOCK
ZERO_BLOCK = bytes(BLOCK)
MAX_HEADER_MEMBER = 16 << 20
MAX_PAX = 1 << 20
# Reading and restoring hold one descriptor per directory level; refusing absurd
# nesting keeps that well under the usual limit of 1024 open files.
MAX_DEPTH = 256


class FileDigest(Protocol):
    """A running digest of one file's contents (hashlib's and blake3's shape)."""

    def update(self, data: bytes | memoryview, /) -> Any: ...

    def hexdigest(self) -> str: ...


# The digest of each file in the manifest, by format version, as (manifest key, digest
# factory). Version 2 uses BLAKE3: as collision-resistant as SHA-256 for this purpose,
# and four times cheaper here, where hashing every file was a third of a backup's CPU.
FILE_DIGESTS: dict[int, tuple[str, Callable[..., FileDigest]]] = {
    1: ("sha256", hashlib.sha256),
    2: ("blake3", blake3.blake3),
}


def manifest_head(version: int) -> bytes:
    """The first line of a version's MANIFEST.json, byte for byte."""
    return b'{"format":"%s","version":%d,"entries":[\n' % (MANIFEST_FORMAT_NAME.encode(), version)


class ArchiveError(Exception):
    """The archive cannot be written, trusted or restored; the message says why."""


@dataclass(frozen=True)
class ArchiveInfo:
    """What an archive holds.

    ``files`` and ``bytes`` count regular files and their sizes; ``entries`` counts
    directories, files and links (the data root included). ``manifest_sha256`` is the
    SHA-256 of MANIFEST.json, which fingerprints the whole backup. ``metadata`` is what
    the caller passed to :func:`write_archive`. ``archive_bytes`` is the compressed size
    written or read, and ``archive_sha256`` (from :func:`write_archive` only) the SHA-256
    of the compressed bytes written: the blob store checks what it stored against it.
    ``notes`` are remarks for the activity log (skipped or changed files,
    links left out of a restore).
    """

    files: int
    bytes: int
    manifest_sha256: str
    metadata: dict[str, Any]
    format_version: int = FORMAT_VERSION
    created: str = ""
    entries: int = 0
    archive_bytes: int = 0
    notes: tuple[str, ...] = field(default=())
    archive_sha256: str = ""


# Printable ASCII but '"' and '\\': JSON needs no escapes for these.
_PLAIN_JSON = re.compile(r"[ !#-\[\]-~]*")


def _json_string(text: str) -> str:
    return f'"{text}"' if _PLAIN_JSON.fullmatch(text) else json.dumps(text)


def entry_line(
    path: str,
    kind: str,
    mode: int,
    mtime: int,
    size: int | None = None,
    digest: str | None = None,
    target: str | None = None,
    digest_key: str = FILE_DIGESTS[FORMAT_VERSION][0],
) -> bytes:
    """One manifest entry, byte for byte as the writer puts it and the reader expects it;
    a file's ``digest`` is named ``digest_key`` (its format version's, see FILE_DIGESTS)."""
    # Formatted by hand (JSON strings still go through json.dumps) because this runs
    # twice per entry, once when writing and once when checking, and dominates the cost
    # of archives with many small files.
    head = f'{{"path":{_json_string(path)},"type":"{kind}","mode":"{mode:04o}","mtime":{mtime}'
    if kind == "file":
        return f'{head},"size":{size},"{digest_key}":"{digest}"}}'.encode("ascii")
    if kind == "symlink":
        return f'{head},"target":{_json_string(target or "")}}}'.encode("ascii")
    return f"{head}}}".encode("ascii")


def manifest_tail(files: int, nbytes: int, entries: int) -> bytes:
    return f'\n],"files":{files},"bytes":{nbytes},"entry_count":{entries}}}\n'.encode("ascii")


_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_OCTAL_11 = 8**11


def tar_header(
    name: str, kind: bytes, mode: int, mtime: int, size: int = 0, link: str = ""
) -> bytes:
    """The header block(s) of one member: plain ustar when it fits, else with a pax record."""
    if kind == tarfile.DIRTYPE:
        name += "/"
    # The common case (short ASCII names, sizes under 8 GiB) is packed directly: it is
    # several times cheaper than TarInfo.tobuf, which matters with many small files.
    if (
        len(name) <= 100
        and len(link) <= 100
        and name.isascii()
        and link.isascii()
        and size < _OCTAL_11
        and 0 <= mtime < _OCTAL_11
    ):
        block = _USTAR.pack(
            name.encode("ascii"),
            b"%07o\0" % mode,
            b"0000000\0",
            b"0000000\0",
            b"%011o\0" % size,
            b"%011o\0" % mtime,
            b"        ",
            kind,
            link.encode("ascii"),
            b"ustar\0",
            b"00",
            b"",
            b"",
            b"",
            b"",
            b"",
        )
        return b"%s%06o\0 %s" % (block[:148], sum(block), block[156:])
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.size = size
    info.linkname = link
    # Owners are not restored (restore runs unprivileged); leaving them out also keeps
    # the server's user names out of the archive and skips a pwd lookup per file.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> int:
    return -size % BLOCK


def member_name(rel: str) -> str:
    return DATA_MEMBER if rel == "." else f"{DATA_MEMBER}/{rel}"
