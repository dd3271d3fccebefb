"""Writing a backup: walking the data area without following links, into a tar.zst."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import zstandard

from homeport.domain.backup_archive.filesystem import (
    DIR_FLAGS,
    READ_FLAGS,
    fsync_dir,
    read_up_to,
    scan_tree,
    start_writeback,
)
from homeport.domain.backup_archive.format import (
    BLOCK,
    CHUNK,
    DEFAULT_LEVEL,
    FILE_DIGESTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_MEMBER,
    MANIFEST_MEMBER,
    MAX_DEPTH,
    MAX_HEADER_MEMBER,
    RECORD,
    ZERO_BLOCK,
    ArchiveError,
    ArchiveInfo,
    entry_line,
    manifest_head,
    manifest_tail,
    member_name,
    padding,
    tar_header,
)
from homeport.domain.backup_archive.progress import ProgressCallback, Reporter
from homeport.domain.backup_archive.threads import CompressorThread

_SMALL_FILE = 256 << 10
_MANIFEST_HEAD = manifest_head(FORMAT_VERSION)
_FILE_DIGEST = FILE_DIGESTS[FORMAT_VERSION][1]


class _CountingWriter:
    """Passes compressed bytes to the destination, counting and hashing them.

    ``sha256`` is the digest of exactly the bytes handed to the destination: the blob
    store checks the stored object against it instead of reading the archive back. When
    the destination is a file this module owns (``fd``), its disk writes are started
    every few MiB so that the final fsync() does not pay for the whole archive at once.
    """

    _WRITEBACK = 32 << 20

    def __init__(self, out: IO[bytes], fd: int | None = None) -> None:
        self._out = out
        self._fd = fd
        self._digest = hashlib.sha256()
        self._synced = 0
        self.count = 0

    def write(self, data: bytes) -> int:
        # Runs in the compressor thread; hashing and writing release the GIL.
        self._out.write(data)
        self._digest.update(data)
        self.count += len(data)
        if self._fd is not None and self.count - self._synced >= self._WRITEBACK:
            self._out.flush()
            start_writeback(self._fd, self._synced, self.count - self._synced)
            self._synced = self.count
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class _TarStream:
    """Writes tar blocks to the compressor, gathering small pieces into larger writes."""

    # Each call into the compressor has a fixed cost; a tree of many small files would
    # otherwise pay it twice per file (header and contents).
    _BATCH = 256 << 10

    def __init__(self, out: CompressorThread) -> None:
        self._out = out
        # Small pieces are kept as a list and joined once per batch: a single copy,
        # where appending to a bytearray and then freezing it would make two.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0

    def _flush(self) -> None:
        if self._pending:
            self._out.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def write(self, *pieces: bytes) -> None:
        """Queue ``pieces``; they must not change afterwards (bytes, never reused buffers)."""
        for data in pieces:
            n = len(data)
            self.size += n
            if n >= self._BATCH:
                self._flush()
                self._out.write(data)
                continue
            self._pending.append(data)
            self._pending_size += n
        if self._pending_size >= self._BATCH:
            self._flush()

    def pad(self, size: int) -> None:
        fill = padding(size)
        if fill:
            self.write(ZERO_BLOCK[:fill])

    def finish(self) -> None:
        # Two zero blocks end a tar; tar tools expect the whole to fill 10 KiB records.
        self.write(ZERO_BLOCK * 2)
        fill = -self.size % RECORD
        if fill:
            self.write(bytes(fill))
        self._flush()


class _ArchiveWriter:
    def __init__(self, tar: _TarStream, reporter: Reporter) -> None:
        self.tar = tar
        self.reporter = reporter
        # Manifest lines go to a spool that moves to disk past 16 MiB, so a tree of
        # millions of files does not hold its whole listing in memory.
        self.manifest: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115
        self._lines: list[bytes] = []
        self.entries = 0
        self.files = 0
        self.bytes = 0

    def _record(self, line: bytes) -> None:
        self._lines.append(line)
        self.entries += 1
        if len(self._lines) >= 4096:
            self._flush_lines()

    def _flush_lines(self) -> None:
        if self._lines:
            if self.manifest.tell():
                self.manifest.write(b",\n")
            self.manifest.write(b",\n".join(self._lines))
            self._lines.clear()

    def add_dir(self, rel: str, st: os.stat_result) -> None:
        mode, mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        self.tar.write(tar_header(member_name(rel), tarfile.DIRTYPE, mode, mtime))
        self._record(entry_line(rel, "dir", mode, mtime))

    def add_symlink(self, rel: str, target: str, st: os.stat_result) -> None:
        mode, mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        self.tar.write(tar_header(member_name(rel), tarfile.SYMTYPE, mode, mtime, link=target))
        self._record(entry_line(rel, "symlink", mode, mtime, target=target))

    def add_file(self, rel: str, fd: int, st: os.stat_result) -> None:
        size, mode, mtime = st.st_size, stat.S_IMODE(st.st_mode), int(st.st_mtime)
        tar, reporter = self.tar, self.reporter
        header = tar_header(member_name(rel), tarfile.REGTYPE, mode, mtime, size=size)
        if size <= _SMALL_FILE:
            # Most files in a data area are small: one read, one hash, one write.
            data = read_up_to(fd, size)
            if len(data) < size:
                reporter.note(
                    f"{rel}: file shrank while it was read; the copy is padded with zeros"
                )
                data += bytes(size - len(data))
            tar.write(header, data, ZERO_BLOCK[: padding(size)])
            digest = _FILE_DIGEST(data).hexdigest()
            self._record(entry_line(rel, "file", mode, mtime, size=size, digest=digest))
            self.files += 1
            self.bytes += size
            reporter.advance(1, size)
            return
        tar.write(header)
        running = _FILE_DIGEST()
        remaining = size
        while remaining:
            # A fresh bytes object per read: it is queued for the compressor thread.
            piece = os.read(fd, min(remaining, CHUNK))
            n = len(piece)
            if n == 0:
                break
            running.update(piece)
            tar.write(piece)
            remaining -= n
            reporter.advance(0, n)
        if remaining:
            # The header already promised ``size`` bytes; zeros keep the tar readable
            # and the digest describes exactly what was archived.
            reporter.note(f"{rel}: file shrank while it was read; the copy is padded with zeros")
            while remaining:
                fill = ZERO_BLOCK * min(remaining // BLOCK + 1, CHUNK // BLOCK)
                fill = fill[:remaining]
                running.update(fill)
                tar.write(fill)
                remaining -= len(fill)
        else:
            # Only files read in several pieces can be torn by a concurrent writer in a
            # way worth reporting; small files are read in one call and skip this fstat.
            after = os.fstat(fd)
            if after.st_size != size or after.st_mtime_ns != st.st_mtime_ns:
                reporter.note(f"{rel}: file changed while it was read; the copy may be torn")
        tar.pad(size)
        self._record(entry_line(rel, "file", mode, mtime, size=size, digest=running.hexdigest()))
        self.files += 1
        self.bytes += size
        reporter.advance(1, 0)

    def add_bytes(self, name: str, data: bytes, mtime: int) -> None:
        self.tar.write(tar_header(name, tarfile.REGTYPE, 0o644, mtime, size=len(data)))
        self.tar.write(data)
        self.tar.pad(len(data))

    def add_manifest(self, mtime: int) -> str:
        self._flush_lines()
        tail = manifest_tail(self.files, self.bytes, self.entries)
        body_size = self.manifest.tell()
        size = len(_MANIFEST_HEAD) + body_size + len(tail)
        self.tar.write(tar_header(MANIFEST_MEMBER, tarfile.REGTYPE, 0o644, mtime, size=size))
        digest = hashlib.sha256(_MANIFEST_HEAD)
        self.tar.write(_MANIFEST_HEAD)
        self.manifest.seek(0)
        while chunk := self.manifest.read(CHUNK):
            digest.update(chunk)
            self.tar.write(chunk)
        digest.update(tail)
        self.tar.write(tail)
        self.tar.pad(size)
        self.manifest.close()
        return digest.hexdigest()


def _kind_name(mode: int) -> str:
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _listing(dir_fd: int) -> list[os.DirEntry[str]]:
    """A directory's entries, in reverse name order (popped from the end)."""
    with os.scandir(dir_fd) as it:
        return sorted(it, key=lambda entry: entry.name, reverse=True)


def _walk_into(writer: _ArchiveWriter, root_fd: int) -> None:
    """Archive everything below the directory ``root_fd``, depth first, names sorted."""
    reporter = writer.reporter
    # Each level: (descriptor, relative path prefix, entries still to visit). The entry
    # types come from the directory listing itself, saving a stat() per file; opening
    # with O_NOFOLLOW then makes sure that what is read is what the listing said.
    stack: list[tuple[int, str, list[os.DirEntry[str]]]] = [(root_fd, "", _listing(root_fd))]
    try:
        while stack:
            dir_fd, prefix, entries = stack[-1]
            if not entries:
                stack.pop()
                if dir_fd != root_fd:
                    os.close(dir_fd)
                continue
            entry = entries.pop()
            name = entry.name
            rel = prefix + name
            try:
                if entry.is_file(follow_symlinks=False):
                    fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISREG(st.st_mode):
                            writer.add_file(rel, fd, st)
                        else:
                            reporter.note(f"{rel}: replaced by a {_kind_name(st.st_mode)}; skipped")
                    finally:
                        os.close(fd)
                elif entry.is_dir(follow_symlinks=False):
                    if len(stack) >= MAX_DEPTH:
                        raise ArchiveError(f"{rel}: directories nested more than {MAX_DEPTH} deep")
                    child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                    try:
                        writer.add_dir(rel, os.fstat(child))
                        listing = _listing(child)
                    except BaseException:
                        os.close(child)
                        raise
                    stack.append((child, rel + "/", listing))
                elif entry.is_symlink():
                    st = entry.stat(follow_symlinks=False)
                    writer.add_symlink(rel, os.readlink(name, dir_fd=dir_fd), st)
                else:
                    kind = _kind_name(entry.stat(follow_symlinks=False).st_mode)
                    reporter.note(
                        f"{rel}: skipped a {kind} (only files, directories and links are backed up)"
                    )
            except (FileNotFoundError, NotADirectoryError):
                reporter.note(f"{rel}: vanished or was replaced while the backup ran; skipped")
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # became a link after it was listed: not followed
                    reporter.note(f"{rel}: replaced by a link while the backup ran; skipped")
                    continue
                raise ArchiveError(f"cannot read {rel}: {exc.strerror}") from exc
    finally:
        for dir_fd, _, _ in stack:
            if dir_fd != root_fd:
                os.close(dir_fd)


def write_archive(
    source_dir: Path,
    dest: BinaryIO | str | os.PathLike[str],
    metadata: Mapping[str, Any],
    progress: ProgressCallback | None = None,
    *,
    level: int = DEFAULT_LEVEL,
    threads: int = -1,
    progress_interval: float = 0.5,
) -> ArchiveInfo:
    """Write a backup of ``source_dir`` to ``dest`` and describe what was written.

    ``dest`` is a binary stream (left open, flushed) or a path. A path is written under a
    temporary name in the same directory, fsync'd, then renamed into place, so it either
    holds a complete archive or does not exist. ``metadata`` must be JSON-serialisable and
    is returned by :func:`verify_archive`. ``progress`` receives :class:`Progress` reports
    (throttled to one per ``progress_interval`` seconds, plus every note); its totals
    come from a first quick walk of the tree. Memory use stays bounded: files are read,
    hashed and compressed in 1 MiB pieces.
    """
    source_dir = Path(source_dir)
    try:
        st = os.lstat(source_dir)
    except FileNotFoundError:
        raise ArchiveError(f"{source_dir} does not exist") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ArchiveError(f"{source_dir} is not a directory (links are not followed)")
    files_total, bytes_total, entries_total = scan_tree(source_dir)
    created = datetime.now(UTC)
    try:
        header = json.dumps(
            {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "estimate": {"files": files_total, "bytes": bytes_total, "entries": entries_total},
                "metadata": dict(metadata),
            },
            ensure_ascii=True,
            indent=1,
            allow_nan=False,
        ).encode()
    except (TypeError, ValueError) as exc:
        raise ArchiveError(f"backup metadata is not JSON-serialisable: {exc}") from exc
    if len(header) > MAX_HEADER_MEMBER:
        raise ArchiveError("backup metadata is larger than 16 MiB")
    reporter = Reporter(progress, "backup", files_total, bytes_total, progress_interval)

    def write_to(out: IO[bytes], fd: int | None = None) -> ArchiveInfo:
        counter = _CountingWriter(out, fd)
        cctx = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
        root_fd = os.open(source_dir, DIR_FLAGS)
        try:
            with cctx.stream_writer(
                cast(IO[bytes], counter), closefd=False, write_size=CHUNK
            ) as zout:
                pipe = CompressorThread(zout)
                try:
                    tar = _TarStream(pipe)
                    writer = _ArchiveWriter(tar, reporter)
                    mtime = int(created.timestamp())
                    writer.add_bytes(HEADER_MEMBER, header, mtime)
                    writer.add_dir(".", os.fstat(root_fd))
                    _walk_into(writer, root_fd)
                    manifest_sha256 = writer.add_manifest(mtime)
                    tar.finish()
                except BaseException:
                    pipe.abort()
                    raise
                pipe.close()
        finally:
            os.close(root_fd)
        counter.flush()
        reporter.finish()
        return ArchiveInfo(
            files=writer.files,
            bytes=writer.bytes,
            manifest_sha256=manifest_sha256,
            metadata=json.loads(json.dumps(dict(metadata))),
            created=created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            entries=writer.entries,
            archive_bytes=counter.count,
            archive_sha256=counter.sha256,
            notes=reporter.all_notes(),
        )

    if not isinstance(dest, str | os.PathLike):
        return write_to(dest)
    path = Path(dest)
    if path.parent.resolve().is_relative_to(source_dir.resolve()):
        raise ArchiveError("the archive cannot be written inside the directory it backs up")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=CHUNK) as out:
            info = write_to(out, out.fileno())
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp_name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)
    return info
