"""Reading a whole archive and checking it against its manifest; ``verify_archive``."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import IO, Any, Protocol

from homeport.domain.backup_archive.filesystem import write_all
from homeport.domain.backup_archive.format import (
    DATA_MEMBER,
    FILE_DIGESTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_MEMBER,
    MANIFEST_MEMBER,
    MAX_DEPTH,
    MAX_HEADER_MEMBER,
    ArchiveError,
    ArchiveInfo,
    entry_line,
    manifest_head,
    manifest_tail,
    padding,
)
from homeport.domain.backup_archive.progress import ProgressCallback, Reporter
from homeport.domain.backup_archive.tar_reader import (
    TYPE_NAMES,
    ByteReader,
    Member,
    next_member,
    split_name,
)
from homeport.domain.backup_archive.threads import ThreadedFeed
from homeport.domain.backup_archive.zstd_stream import Decoder


class _Sink(Protocol):
    """Where the reader sends what it finds; the verifier's sink discards it."""

    def directory(self, parts: tuple[str, ...], mode: int, mtime: int) -> None: ...

    def leave_directory(self) -> None: ...

    def open_file(self, parts: tuple[str, ...], size: int) -> int | None: ...

    def close_file(self, fd: int, mode: int, mtime: int) -> None: ...

    def symlink(self, parts: tuple[str, ...], target: str, mtime: int) -> None: ...


class _NullSink:
    def directory(self, parts: tuple[str, ...], mode: int, mtime: int) -> None:
        return None

    def leave_directory(self) -> None:
        return None

    def open_file(self, parts: tuple[str, ...], size: int) -> int | None:
        return None

    def close_file(self, fd: int, mode: int, mtime: int) -> None:
        return None

    def symlink(self, parts: tuple[str, ...], target: str, mtime: int) -> None:
        return None


def _read_json_member(reader: ByteReader, member: Member, what: str) -> Any:
    if member.kind != tarfile.REGTYPE:
        raise ArchiveError(f"{what} is not a regular file")
    if member.size > MAX_HEADER_MEMBER:
        raise ArchiveError(f"{what} is larger than 16 MiB")
    raw = reader.read_exact(member.size)
    reader.skip(padding(member.size))
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ArchiveError(f"{what} is not valid JSON") from None


def _read_archive(
    reader: ByteReader,
    sink: _Sink,
    reporter: Reporter,
    expected_manifest_sha256: str | None,
    on_header: Callable[[dict[str, Any]], None] | None = None,
) -> ArchiveInfo:
    """Walk the whole archive, checking everything, and feed its contents to ``sink``."""
    first = next_member(reader)
    if first is None or first.name != HEADER_MEMBER:
        raise ArchiveError(f"not a Homeport backup: the first member is not {HEADER_MEMBER}")
    header = _read_json_member(reader, first, HEADER_MEMBER)
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ArchiveError(f"not a Homeport backup: {HEADER_MEMBER} names another format")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in FILE_DIGESTS:
        raise ArchiveError(
            f"backup format version {version!r} is not supported"
            f" (this Homeport reads versions 1 to {FORMAT_VERSION})"
        )
    # Each archive is checked with the file digest of the version that wrote it.
    digest_key, new_digest = FILE_DIGESTS[version]
    metadata = header.get("metadata")
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{HEADER_MEMBER} has no metadata object")
    if on_header is not None:
        on_header(header)

    # The manifest this archive should carry, built from what is actually in it; the
    # real one must match it byte for byte (so every digest, mode and link agrees).
    expected = hashlib.sha256(manifest_head(version))
    manifest_sha256: str | None = None
    files = nbytes = entries = 0
    stack: list[tuple[str, ...]] = []
    previous: tuple[str, ...] | None = None
    while True:
        member = next_member(reader)
        if member is None:
            break
        if manifest_sha256 is not None:
            raise ArchiveError(f"member {member.name!r} follows {MANIFEST_MEMBER}; refused")
        kind = member.kind
        if kind not in (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE):
            what = TYPE_NAMES.get(kind, f"an unsupported member type {kind!r}")
            raise ArchiveError(f"member {member.name!r} is {what}; refused")
        if kind != tarfile.REGTYPE and member.size:
            raise ArchiveError(f"member {member.name!r} has data but is not a file; refused")
        parts = split_name(member)
        if parts == (MANIFEST_MEMBER,):
            if kind != tarfile.REGTYPE:
                raise ArchiveError(f"{MANIFEST_MEMBER} is not a regular file")
            if not stack:
                raise ArchiveError("the archive has no data directory")
            expected.update(manifest_tail(files, nbytes, entries))
            actual = hashlib.sha256()
            for piece in reader.pieces(member.size):
                actual.update(piece)
            reader.skip(padding(member.size))
            if actual.digest() != expected.digest():
                raise ArchiveError(
                    f"{MANIFEST_MEMBER} does not match the archive's contents"
                    " (a file's digest, size, mode or a link differs, or entries are missing)"
                )
            manifest_sha256 = actual.hexdigest()
            continue
        if parts[0] != DATA_MEMBER:
            raise ArchiveError(f"member {member.name!r} is outside {DATA_MEMBER}/; refused")
        rel = parts[1:]
        if len(rel) > MAX_DEPTH:
            raise ArchiveError(f"member {member.name!r} is nested too deeply; refused")
        if previous is None:
            if rel or kind != tarfile.DIRTYPE:
                raise ArchiveError(
                    f"the archive does not start its data with a {DATA_MEMBER}/ directory"
                )
        elif rel <= previous:
            if rel == previous:
                raise ArchiveError(f"member {member.name!r} appears twice; refused")
            raise ArchiveError(f"member {member.name!r} is out of order; refused")
        # Depth-first, sorted order means a member's parent directory, if the archive
        # has it, is still on the stack: anything else was not a directory member.
        while stack and rel[: len(stack[-1])] != stack[-1]:
            stack.pop()
            sink.leave_directory()
        if previous is not None and (not stack or stack[-1] != rel[:-1]):
            parent = "/".join((DATA_MEMBER, *rel[:-1]))
            raise ArchiveError(
                f"member {member.name!r}: its parent {parent!r} is not a directory"
                " in the archive; refused"
            )
        previous = rel
        relpath = "/".join(rel) or "."
        if entries:
            expected.update(b",\n")
        entries += 1
        if kind == tarfile.DIRTYPE:
            expected.update(entry_line(relpath, "dir", member.mode, member.mtime))
            sink.directory(rel, member.mode, member.mtime)
            stack.append(rel)
        elif kind == tarfile.SYMTYPE:
            if not member.link or "\0" in member.link:
                raise ArchiveError(f"member {member.name!r} is a link with no target; refused")
            expected.update(
                entry_line(relpath, "symlink", member.mode, member.mtime, target=member.link)
            )
            sink.symlink(rel, member.link, member.mtime)
        else:
            size = member.size
            fd = sink.open_file(rel, size)
            try:
                # Small files usually lie whole in the current chunk: take them in one
                # piece, padding included, instead of going through the generator.
                whole = reader.take_buffered(size + padding(size))
                if whole is not None:
                    data = whole[:size]
                    digest = new_digest(data)
                    if fd is not None:
                        write_all(fd, data)
                    reporter.advance(0, size)
                else:
                    digest = new_digest()
                    for piece in reader.pieces(size):
                        digest.update(piece)
                        if fd is not None:
                            write_all(fd, piece)
                        reporter.advance(0, len(piece))
                    reader.skip(padding(size))
            finally:
                if fd is not None:
                    sink.close_file(fd, member.mode, member.mtime)
            expected.update(
                entry_line(
                    relpath,
                    "file",
                    member.mode,
                    member.mtime,
                    size=member.size,
                    digest=digest.hexdigest(),
                    digest_key=digest_key,
                )
            )
            files += 1
            nbytes += member.size
            reporter.advance(1, 0)
    if manifest_sha256 is None:
        raise ArchiveError(f"the archive is truncated or incomplete: {MANIFEST_MEMBER} is missing")
    while stack:
        stack.pop()
        sink.leave_directory()
    # A second zero block and the record padding follow; nothing else may.
    if not reader.rest_is_zeros():
        raise ArchiveError("the archive has unexpected data after its end")
    if expected_manifest_sha256 is not None and manifest_sha256 != expected_manifest_sha256:
        raise ArchiveError(
            "this archive is not the backup that was recorded (its manifest digest differs)"
        )
    reporter.finish()
    return ArchiveInfo(
        files=files,
        bytes=nbytes,
        manifest_sha256=manifest_sha256,
        metadata=metadata,
        format_version=version,
        created=str(header.get("created", "")),
        entries=entries,
        archive_bytes=0,
        notes=reporter.all_notes(),
    )


def _estimate(header: Mapping[str, Any]) -> tuple[int, int]:
    estimate = header.get("estimate")
    if isinstance(estimate, dict):
        files, nbytes = estimate.get("files"), estimate.get("bytes")
        if isinstance(files, int) and isinstance(nbytes, int):
            return files, nbytes
    return 0, 0


def run_reader(
    stream: IO[bytes],
    sink: _Sink,
    reporter: Reporter,
    expected_manifest_sha256: str | None,
    *,
    totals_from_header: bool,
) -> ArchiveInfo:
    decoder = Decoder(stream)
    feed = ThreadedFeed(decoder)
    try:

        def on_header(header: dict[str, Any]) -> None:
            if totals_from_header:
                reporter.files_total, reporter.bytes_total = _estimate(header)

        info = _read_archive(ByteReader(feed), sink, reporter, expected_manifest_sha256, on_header)
    finally:
        feed.close()
    return replace(info, archive_bytes=decoder.source.count)


def verify_archive(
    stream: IO[bytes],
    *,
    expected_manifest_sha256: str | None = None,
    progress: ProgressCallback | None = None,
    progress_interval: float = 0.5,
) -> ArchiveInfo:
    """Read a whole archive from ``stream`` and check it; raise :class:`ArchiveError` if bad.

    Every file's SHA-256 is recomputed and compared, through the manifest, with what was
    recorded when the backup was written; the zstd checksum is checked too. Hostile
    members (absolute paths, ``..``, anything outside ``data/``, hard links, devices,
    duplicates, files below a link) are refused. Pass ``expected_manifest_sha256`` (from
    :func:`write_archive`) to also make sure this is the backup that was recorded.
    """
    reporter = Reporter(progress, "verify", 0, 0, progress_interval)
    return run_reader(
        stream, _NullSink(), reporter, expected_manifest_sha256, totals_from_header=True
    )
