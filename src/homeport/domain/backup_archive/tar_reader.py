"""Reading the tar layer: a byte reader over the decompressed stream, and strict headers."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from homeport.domain.backup_archive.format import BLOCK, MAX_PAX, ZERO_BLOCK, ArchiveError, padding


class ByteReader:
    """Sequential access to the decompressed tar stream."""

    def __init__(self, feed: Callable[[], bytes]) -> None:
        self._feed = feed
        self._buf = memoryview(b"")
        self._pos = 0
        self.offset = 0

    def _fill(self) -> bool:
        chunk = self._feed()
        if not chunk:
            return False
        self._buf = memoryview(chunk)
        self._pos = 0
        return True

    def read_exact(self, size: int) -> bytes:
        avail = len(self._buf) - self._pos
        if avail >= size:
            data = bytes(self._buf[self._pos : self._pos + size])
            self._pos += size
            self.offset += size
            return data
        parts = []
        for piece in self.pieces(size):
            parts.append(bytes(piece))
        return b"".join(parts)

    def take_buffered(self, size: int) -> memoryview | None:
        """The next ``size`` bytes if the current chunk holds them all, else None."""
        end = self._pos + size
        if end > len(self._buf):
            return None
        view = self._buf[self._pos : end]
        self._pos = end
        self.offset += size
        return view

    def pieces(self, size: int) -> Iterator[memoryview]:
        """Yield ``size`` bytes as views into the current chunks."""
        while size:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill():
                    raise ArchiveError(
                        f"the archive is truncated (tar stream ends at byte {self.offset})"
                    )
                continue
            take = min(avail, size)
            piece = self._buf[self._pos : self._pos + take]
            self._pos += take
            self.offset += take
            size -= take
            yield piece

    def skip(self, size: int) -> None:
        for _ in self.pieces(size):
            pass

    def rest_is_zeros(self) -> bool:
        """Consume the rest of the stream; True when it holds only zero bytes."""
        while True:
            tail = self._buf[self._pos :]
            if tail.nbytes and bytes(tail).strip(b"\0"):
                return False
            self._buf, self._pos = memoryview(b""), 0
            if not self._fill():
                return True


@dataclass
class Member:
    name: str
    kind: bytes
    mode: int
    mtime: int
    size: int
    link: str
    offset: int


_PAX_IGNORED = frozenset(
    {"atime", "ctime", "uid", "gid", "uname", "gname", "hdrcharset", "comment"}
)


def _parse_pax(data: bytes, offset: int) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 21)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1 : end] != b"\n":
            raise ArchiveError(f"malformed pax header at byte {offset}")
        record = data[space + 1 : end - 1]
        key, eq, value = record.partition(b"=")
        if not eq or not key:
            raise ArchiveError(f"malformed pax header at byte {offset}")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


def _octal(field: bytes, offset: int) -> int:
    if field[:1] and field[0] & 0x80:
        # Base-256 numbers are a GNU extension; this writer uses pax records instead.
        raise ArchiveError(f"unsupported number encoding in the tar header at byte {offset}")
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise ArchiveError(f"the archive is corrupt: bad tar header at byte {offset}") from None


def _parse_header(block: bytes, offset: int) -> tuple[str, bytes, int, int, int, str]:
    """(name, type, mode, size, mtime, link name) of a POSIX ustar header block."""
    # Parsed by hand rather than with TarInfo.frombuf: it is several times cheaper, and
    # anything but the POSIX ustar headers this module writes is refused anyway.
    if block[257:263] != b"ustar\0":
        raise ArchiveError(f"the archive is corrupt: no tar header at byte {offset}")
    try:
        # Fast path: the zero-padded, NUL-terminated fields tar writers normally produce.
        checksum = int(block[148:154], 8)
        mode = int(block[100:107], 8)
        size = int(block[124:135], 8)
        mtime = int(block[136:147], 8)
    except ValueError:
        checksum = _octal(block[148:156], offset)
        mode = _octal(block[100:108], offset)
        size = _octal(block[124:136], offset)
        mtime = _octal(block[136:148], offset)
    if checksum != sum(block) - sum(block[148:156]) + 256:
        raise ArchiveError(f"the archive is corrupt: tar header checksum fails at byte {offset}")
    name = block[:100].split(b"\0", 1)[0]
    if block[345]:
        name = block[345:500].split(b"\0", 1)[0] + b"/" + name
    link = block[157:257].split(b"\0", 1)[0] if block[157] else b""
    return (
        name.decode("utf-8", "surrogateescape"),
        block[156:157],
        mode,
        size,
        mtime,
        link.decode("utf-8", "surrogateescape"),
    )


TYPE_NAMES = {
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CONTTYPE: "a contiguous file",
    tarfile.XGLTYPE: "a global pax header",
    tarfile.GNUTYPE_LONGNAME: "a GNU long name",
    tarfile.GNUTYPE_LONGLINK: "a GNU long link",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}


def next_member(reader: ByteReader) -> Member | None:
    """Read the next member header (with its pax record); None at the end-of-archive block."""
    offset = reader.offset
    block = reader.read_exact(BLOCK)
    if block == ZERO_BLOCK:
        return None
    name, kind, mode, size, mtime, link = _parse_header(block, offset)
    if kind == tarfile.XHDTYPE:
        if size > MAX_PAX:
            raise ArchiveError(f"pax header at byte {offset} is larger than 1 MiB")
        pax = _parse_pax(reader.read_exact(size), offset)
        reader.skip(padding(size))
        offset = reader.offset
        block = reader.read_exact(BLOCK)
        if block == ZERO_BLOCK:
            raise ArchiveError(f"pax header at byte {offset} is not followed by a member")
        name, kind, mode, size, mtime, link = _parse_header(block, offset)
        if kind == tarfile.XHDTYPE:
            raise ArchiveError(f"two pax headers in a row at byte {offset}")
        unknown = set(pax) - _PAX_IGNORED - {"path", "linkpath", "size", "mtime"}
        if unknown:
            raise ArchiveError(f"unsupported pax keyword {sorted(unknown)[0]!r} at byte {offset}")
        name = pax.get("path", name)
        link = pax.get("linkpath", link)
        try:
            size = int(pax["size"]) if "size" in pax else size
            mtime = int(float(pax["mtime"])) if "mtime" in pax else mtime
        except (ValueError, OverflowError):
            raise ArchiveError(f"bad size or mtime in the pax header at byte {offset}") from None
    if kind == tarfile.AREGTYPE:
        kind = tarfile.REGTYPE
    if kind == tarfile.DIRTYPE and name.endswith("/"):
        name = name[:-1]
    if size < 0 or not -(2**40) < mtime < 2**40:
        raise ArchiveError(f"bad size or mtime in the tar header at byte {offset}")
    return Member(name, kind, mode & 0o7777, mtime, size, link, offset)


def split_name(member: Member) -> tuple[str, ...]:
    name = member.name
    if "\0" in name or not name:
        raise ArchiveError(f"member at byte {member.offset} has an invalid name")
    if name.startswith("/"):
        raise ArchiveError(f"member {name!r} has an absolute path; refused")
    parts = tuple(name.split("/"))
    if ".." in parts:
        raise ArchiveError(f"member {name!r} contains '..' and would escape the target; refused")
    if "" in parts or "." in parts:
        raise ArchiveError(f"member {name!r} has an empty or '.' path component; refused")
    return parts
