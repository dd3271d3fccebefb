"""Crash-safe backup archives: a streaming tar compressed with zstd, checked by a manifest.

Plain Python: no database, no HTTP. The worker calls :func:`write_archive` to make a
backup, :func:`verify_archive` on the stored copy before it marks the backup restorable,
:func:`restore_archive` to put a backup back, and :func:`recover_interrupted` at start-up.

Format (version 1)
==================

One zstd stream (with zstd's content checksum on) holding a POSIX tar (pax) with, in
this order:

1. ``homeport-backup.json``: ``{"format": "homeport-backup", "version": 1, "created":
   ..., "estimate": {"files": n, "bytes": n, "entries": n}, "metadata": {...}}``.
   ``metadata`` is whatever the caller passed (head commit, variables snapshot). It is
   stored as plain JSON, so callers must pass sensitive values only in encrypted form.
2. ``data`` (the data area's root directory), then every entry below it as
   ``data/<path>``, depth first, names sorted by code point. Only directories, regular
   files and symbolic links are stored; sockets, FIFOs and devices are skipped with a
   note. Hard-linked files are stored once per name (they come back as copies).
3. ``MANIFEST.json``: every entry of ``data`` in archive order with its type, mode,
   mtime, and the size and SHA-256 of files or the target of links. It is ordinary JSON
   written one entry per line so that it can be checked as a stream in bounded memory::

       {"format":"homeport-backup-manifest","version":1,"entries":[
       {"path":".","type":"dir","mode":"0755","mtime":1700000000},
       {"path":"a.txt","type":"file","mode":"0644","mtime":1700000000,"size":3,"sha256":"..."}
       ],"files":1,"bytes":3,"entry_count":2}

The SHA-256 of the ``MANIFEST.json`` member (``ArchiveInfo.manifest_sha256``) fingerprints
the whole backup; store it and pass it back as ``expected_manifest_sha256``.

The archive is a standard ``.tar.zst``: ``zstd -dc backup | tar -x`` reads it in a
disaster, without Homeport.

Safety rules
============

* Backup never follows a symbolic link: directories and files are opened relative to
  their parent's descriptor with ``O_NOFOLLOW``. Links are stored as links, whatever they
  point at.
* Reading refuses anything this writer would not produce: absolute names, ``..`` or
  empty components, members outside ``data/``, hard links, devices, FIFOs, GNU or global
  pax headers, duplicate or unsorted names, and members whose parent is not a directory
  member of the archive (so no file can be written through a link).
* Restore extracts into ``<target>.restore-<random>`` beside the target, in a directory
  only Homeport can enter, checking every digest and the manifest as it goes; only a
  fully checked tree is synced to disk and swapped in. Modes are applied without the
  setuid and setgid bits; mtimes are kept.
* Links whose target is absolute, or that resolve outside the restored tree once every
  link is in place, are *not* recreated: they are left out with a note in the progress
  log and in ``ArchiveInfo.notes``. (The backup keeps them as they were, so a person can
  still inspect them with tar.)

Crash states
============

:func:`restore_archive` moves through these states; :func:`recover_interrupted` puts each
right (``restore_archive`` calls it first, the server should call it at start-up):

* ``<target>.restore-*`` exists, target untouched: extraction was cut short. The
  leftover is deleted; the target holds the old data.
* target missing, ``<target>.old-*`` present: killed between the two renames of the
  swap. The old data is renamed back (the restore is rolled back, never half applied).
* target present (new data), ``<target>.old-*`` present: the swap finished but the old
  copy was not yet removed. The old copy is deleted; the restore had taken effect.

Callers must not run two restores (or a backup and a restore) of one target at once.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import stat
import struct
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast

import zstandard

FORMAT_NAME = "homeport-backup"
MANIFEST_FORMAT_NAME = "homeport-backup-manifest"
FORMAT_VERSION = 1
HEADER_MEMBER = "homeport-backup.json"
MANIFEST_MEMBER = "MANIFEST.json"
DATA_MEMBER = "data"
DEFAULT_LEVEL = 1

_CHUNK = 1 << 20
_BLOCK = 512
_RECORD = 20 * _BLOCK
_ZERO_BLOCK = bytes(_BLOCK)
_MAX_HEADER_MEMBER = 16 << 20
_MAX_PAX = 1 << 20
_MAX_NOTES = 200
_SMALL_FILE = 256 << 10
# Reading and restoring hold one descriptor per directory level; refusing absurd
# nesting keeps that well under the usual limit of 1024 open files.
_MAX_DEPTH = 256
# Files are restored without setuid/setgid: a backup must not become a way to mint
# privileged executables. The sticky bit is harmless and kept.
_MODE_MASK = 0o1777
_MANIFEST_HEAD = b'{"format":"' + MANIFEST_FORMAT_NAME.encode() + b'","version":1,"entries":[\n'

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ArchiveError(Exception):
    """The archive cannot be written, trusted or restored; the message says why."""


@dataclass(frozen=True)
class Progress:
    """How far a backup, verification or restore has gone.

    ``phase`` is ``"backup"``, ``"verify"`` or ``"restore"``. ``note`` is non-empty when
    the report carries a remark for the activity log (a skipped socket, a file that
    changed while it was read, a link left out of a restore).
    """

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    phase: str = "backup"
    note: str = ""

    @property
    def percent(self) -> int:
        """Completion from 0 to 100, counting each file as 4 KiB of work besides its bytes."""
        # Weighting files as well as bytes keeps the figure moving through trees of
        # many tiny files, where bytes alone would barely change.
        total = self.bytes_total + 4096 * self.files_total
        if total <= 0:
            return 100
        done = self.bytes_done + 4096 * self.files_done
        return max(0, min(100, done * 100 // total))


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class ArchiveInfo:
    """What an archive holds.

    ``files`` and ``bytes`` count regular files and their sizes; ``entries`` counts
    directories, files and links (the data root included). ``manifest_sha256`` is the
    SHA-256 of MANIFEST.json, which fingerprints the whole backup. ``metadata`` is what
    the caller passed to :func:`write_archive`. ``archive_bytes`` is the compressed size
    written or read. ``notes`` are remarks for the activity log (skipped or changed files,
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


# --------------------------------------------------------------------------- progress


class _Reporter:
    """Counts work and calls the caller's callback at most every ``interval`` seconds."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        phase: str,
        files_total: int,
        bytes_total: int,
        interval: float,
    ) -> None:
        self._callback = callback
        self.phase = phase
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self._interval = interval
        self._last = time.monotonic()
        self.notes: list[str] = []
        self._dropped_notes = 0

    def _emit(self, note: str = "") -> None:
        if self._callback is None:
            return
        self._last = time.monotonic()
        self._callback(
            Progress(
                files_done=self.files_done,
                # A tree that grows during a backup must not report more than 100 %.
                files_total=max(self.files_total, self.files_done),
                bytes_done=self.bytes_done,
                bytes_total=max(self.bytes_total, self.bytes_done),
                phase=self.phase,
                note=note,
            )
        )

    def advance(self, files: int, nbytes: int) -> None:
        self.files_done += files
        self.bytes_done += nbytes
        if self._callback is not None and (
            self._interval <= 0 or time.monotonic() - self._last >= self._interval
        ):
            self._emit()

    def note(self, text: str) -> None:
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(text)
        else:
            self._dropped_notes += 1
        self._emit(text)

    def all_notes(self) -> tuple[str, ...]:
        if self._dropped_notes:
            return (*self.notes, f"... and {self._dropped_notes} more notes")
        return tuple(self.notes)

    def finish(self) -> None:
        self._emit()


# --------------------------------------------------------------------------- helpers


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, _DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - every Linux libc loads
        return None


def _sync_filesystem(fd: int) -> None:
    """Flush everything written to the filesystem holding ``fd`` to stable storage."""
    # One syncfs() costs one journal commit; fsync() on each of thousands of restored
    # files would cost one each. Fall back to a global sync() where syncfs is missing.
    libc = _libc()
    syncfs = getattr(libc, "syncfs", None) if libc is not None else None
    if syncfs is not None and syncfs(fd) == 0:
        return
    os.sync()


def _make_tree_writable(path: Path) -> None:
    # Restored trees may contain read-only directories (mode 0555), which block
    # deleting their entries for anyone but root.
    pending = [str(path)]
    while pending:
        current = pending.pop()
        try:
            os.chmod(current, 0o700)
            with os.scandir(current) as it:
                pending.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue


def _remove_tree(path: Path) -> None:
    """Delete a directory tree, including read-only directories, never following links."""
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not path.is_dir():
        os.unlink(path)
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        _make_tree_writable(path)
        shutil.rmtree(path)


def _scan(root: Path) -> tuple[int, int, int]:
    """Count regular files, their bytes and all entries below ``root`` (links not followed)."""
    files = nbytes = entries = 0
    pending = [str(root)]
    while pending:
        current = pending.pop()
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        entries += 1
                    elif entry.is_file(follow_symlinks=False):
                        nbytes += entry.stat(follow_symlinks=False).st_size
                        files += 1
                        entries += 1
                    elif entry.is_symlink():
                        entries += 1
                except OSError:
                    continue
    return files, nbytes, entries


def directory_size(path: Path) -> int:
    """Total size in bytes of the regular files below ``path``; links are not followed."""
    return _scan(Path(path))[1]


# Printable ASCII but '"' and '\\': JSON needs no escapes for these.
_PLAIN_JSON = re.compile(r"[ !#-\[\]-~]*")


def _json_string(text: str) -> str:
    return f'"{text}"' if _PLAIN_JSON.fullmatch(text) else json.dumps(text)


def _entry_line(
    path: str,
    kind: str,
    mode: int,
    mtime: int,
    size: int | None = None,
    sha256: str | None = None,
    target: str | None = None,
) -> bytes:
    """One manifest entry, byte for byte as the writer puts it and the reader expects it."""
    # Formatted by hand (JSON strings still go through json.dumps) because this runs
    # twice per entry, once when writing and once when checking, and dominates the cost
    # of archives with many small files.
    head = f'{{"path":{_json_string(path)},"type":"{kind}","mode":"{mode:04o}","mtime":{mtime}'
    if kind == "file":
        return f'{head},"size":{size},"sha256":"{sha256}"}}'.encode("ascii")
    if kind == "symlink":
        return f'{head},"target":{_json_string(target or "")}}}'.encode("ascii")
    return f"{head}}}".encode("ascii")


def _manifest_tail(files: int, nbytes: int, entries: int) -> bytes:
    return f'\n],"files":{files},"bytes":{nbytes},"entry_count":{entries}}}\n'.encode("ascii")


_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_OCTAL_11 = 8**11


def _tar_header(
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


def _padding(size: int) -> int:
    return -size % _BLOCK


def _read_up_to(fd: int, size: int) -> bytes:
    """Read ``size`` bytes, or fewer if the file ends first."""
    data = os.read(fd, size) if size else b""
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size and (more := os.read(fd, size - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


# --------------------------------------------------------------------------- writing


class _CountingWriter:
    """Passes compressed bytes to the destination and counts them."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.count = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class _CompressorThread:
    """Feeds the compressor from a helper thread, a few chunks behind the reader.

    Compression releases the GIL, so reading and hashing the next file overlaps
    compressing the last one; the bounded queue bounds the memory this takes.
    """

    def __init__(self, out: Any, depth: int = 8) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backup-compress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._out.write(item)
        except BaseException as exc:  # re-raised in the writing thread
            self._error = exc
            # Keep taking items so the writer never blocks on a full queue.
            while self._queue.get() is not None:
                pass

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        """Wait for everything queued to be compressed; raise the compressor's error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop the thread after a failure elsewhere, without raising its own error."""
        self._queue.put(None)
        self._thread.join()


class _TarStream:
    """Writes tar blocks to the compressor, gathering small pieces into larger writes."""

    # Each call into the compressor has a fixed cost; a tree of many small files would
    # otherwise pay it twice per file (header and contents).
    _BATCH = 256 << 10

    def __init__(self, out: _CompressorThread) -> None:
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
        fill = _padding(size)
        if fill:
            self.write(_ZERO_BLOCK[:fill])

    def finish(self) -> None:
        # Two zero blocks end a tar; tar tools expect the whole to fill 10 KiB records.
        self.write(_ZERO_BLOCK * 2)
        fill = -self.size % _RECORD
        if fill:
            self.write(bytes(fill))
        self._flush()


class _ArchiveWriter:
    def __init__(self, tar: _TarStream, reporter: _Reporter) -> None:
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
        self.tar.write(_tar_header(_member(rel), tarfile.DIRTYPE, mode, mtime))
        self._record(_entry_line(rel, "dir", mode, mtime))

    def add_symlink(self, rel: str, target: str, st: os.stat_result) -> None:
        mode, mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        self.tar.write(_tar_header(_member(rel), tarfile.SYMTYPE, mode, mtime, link=target))
        self._record(_entry_line(rel, "symlink", mode, mtime, target=target))

    def add_file(self, rel: str, fd: int, st: os.stat_result) -> None:
        size, mode, mtime = st.st_size, stat.S_IMODE(st.st_mode), int(st.st_mtime)
        tar, reporter = self.tar, self.reporter
        header = _tar_header(_member(rel), tarfile.REGTYPE, mode, mtime, size=size)
        if size <= _SMALL_FILE:
            # Most files in a data area are small: one read, one hash, one write.
            data = _read_up_to(fd, size)
            if len(data) < size:
                reporter.note(
                    f"{rel}: file shrank while it was read; the copy is padded with zeros"
                )
                data += bytes(size - len(data))
            tar.write(header, data, _ZERO_BLOCK[: _padding(size)])
            sha256 = hashlib.sha256(data).hexdigest()
            self._record(_entry_line(rel, "file", mode, mtime, size=size, sha256=sha256))
            self.files += 1
            self.bytes += size
            reporter.advance(1, size)
            return
        tar.write(header)
        digest = hashlib.sha256()
        remaining = size
        while remaining:
            # A fresh bytes object per read: it is queued for the compressor thread.
            piece = os.read(fd, min(remaining, _CHUNK))
            n = len(piece)
            if n == 0:
                break
            digest.update(piece)
            tar.write(piece)
            remaining -= n
            reporter.advance(0, n)
        if remaining:
            # The header already promised ``size`` bytes; zeros keep the tar readable
            # and the digest describes exactly what was archived.
            reporter.note(f"{rel}: file shrank while it was read; the copy is padded with zeros")
            while remaining:
                fill = _ZERO_BLOCK * min(remaining // _BLOCK + 1, _CHUNK // _BLOCK)
                fill = fill[:remaining]
                digest.update(fill)
                tar.write(fill)
                remaining -= len(fill)
        else:
            # Only files read in several pieces can be torn by a concurrent writer in a
            # way worth reporting; small files are read in one call and skip this fstat.
            after = os.fstat(fd)
            if after.st_size != size or after.st_mtime_ns != st.st_mtime_ns:
                reporter.note(f"{rel}: file changed while it was read; the copy may be torn")
        tar.pad(size)
        self._record(_entry_line(rel, "file", mode, mtime, size=size, sha256=digest.hexdigest()))
        self.files += 1
        self.bytes += size
        reporter.advance(1, 0)

    def add_bytes(self, name: str, data: bytes, mtime: int) -> None:
        self.tar.write(_tar_header(name, tarfile.REGTYPE, 0o644, mtime, size=len(data)))
        self.tar.write(data)
        self.tar.pad(len(data))

    def add_manifest(self, mtime: int) -> str:
        self._flush_lines()
        tail = _manifest_tail(self.files, self.bytes, self.entries)
        body_size = self.manifest.tell()
        size = len(_MANIFEST_HEAD) + body_size + len(tail)
        self.tar.write(_tar_header(MANIFEST_MEMBER, tarfile.REGTYPE, 0o644, mtime, size=size))
        digest = hashlib.sha256(_MANIFEST_HEAD)
        self.tar.write(_MANIFEST_HEAD)
        self.manifest.seek(0)
        while chunk := self.manifest.read(_CHUNK):
            digest.update(chunk)
            self.tar.write(chunk)
        digest.update(tail)
        self.tar.write(tail)
        self.tar.pad(size)
        self.manifest.close()
        return digest.hexdigest()


def _member(rel: str) -> str:
    return DATA_MEMBER if rel == "." else f"{DATA_MEMBER}/{rel}"


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
                    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISREG(st.st_mode):
                            writer.add_file(rel, fd, st)
                        else:
                            reporter.note(f"{rel}: replaced by a {_kind_name(st.st_mode)}; skipped")
                    finally:
                        os.close(fd)
                elif entry.is_dir(follow_symlinks=False):
                    if len(stack) >= _MAX_DEPTH:
                        raise ArchiveError(f"{rel}: directories nested more than {_MAX_DEPTH} deep")
                    child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
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
    files_total, bytes_total, entries_total = _scan(source_dir)
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
    if len(header) > _MAX_HEADER_MEMBER:
        raise ArchiveError("backup metadata is larger than 16 MiB")
    reporter = _Reporter(progress, "backup", files_total, bytes_total, progress_interval)

    def write_to(out: IO[bytes]) -> ArchiveInfo:
        counter = _CountingWriter(out)
        cctx = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
        root_fd = os.open(source_dir, _DIR_FLAGS)
        try:
            with cctx.stream_writer(
                cast(IO[bytes], counter), closefd=False, write_size=_CHUNK
            ) as zout:
                pipe = _CompressorThread(zout)
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
            notes=reporter.all_notes(),
        )

    if not isinstance(dest, str | os.PathLike):
        return write_to(dest)
    path = Path(dest)
    if path.parent.resolve().is_relative_to(source_dir.resolve()):
        raise ArchiveError("the archive cannot be written inside the directory it backs up")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=_CHUNK) as out:
            info = write_to(out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp_name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return info


# --------------------------------------------------------------------------- reading


_ZSTD_MAGIC = 0xFD2FB528


class _FrameTracker:
    """Follows zstd frame and block boundaries in the compressed bytes.

    python-zstandard's stream reader reports a clean end of stream when its input stops
    in the middle of a frame; following the block headers tells a truncated archive from
    a complete one without a second decompression.
    """

    def __init__(self) -> None:
        self._state = "magic"
        self._need = 4
        self._field = bytearray()
        self._skip = 0
        self._last_block = False
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self.frames > 0 and self._state == "magic" and not self._field and self._skip == 0

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                if self._skip == 0:
                    self._after_block()
                continue
            take = min(self._need - len(self._field), end - pos)
            self._field += data[pos : pos + take]
            pos += take
            if len(self._field) == self._need:
                value = bytes(self._field)
                self._field.clear()
                self._parse(value)

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _parse(self, value: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(value, "little")
            if magic == _ZSTD_MAGIC:
                self._expect("descriptor", 1)
            elif 0x184D2A50 <= magic <= 0x184D2A5F:
                self._expect("skippable", 4)
            else:
                raise ArchiveError(
                    "the archive is corrupt: not zstd data where a frame should start"
                )
        elif state == "descriptor":
            flags = value[0]
            if flags & 0x08:
                raise ArchiveError("the archive is corrupt: invalid zstd frame header")
            single_segment = (flags >> 5) & 1
            self._checksum = bool((flags >> 2) & 1)
            rest = (0 if single_segment else 1) + (0, 1, 2, 4)[flags & 3]
            rest += (single_segment, 2, 4, 8)[flags >> 6]
            if rest:
                self._expect("frame header", rest)
            else:
                self._expect("block", 3)
        elif state == "frame header":
            self._expect("block", 3)
        elif state == "block":
            header = int.from_bytes(value, "little")
            kind = (header >> 1) & 3
            if kind == 3:
                raise ArchiveError("the archive is corrupt: invalid zstd block")
            self._last_block = bool(header & 1)
            self._skip = 1 if kind == 1 else header >> 3
            self._state = "block data"
            if self._skip == 0:
                self._after_block()
        elif state == "checksum":
            self._frame_done()
        elif state == "skippable":
            self._skip = int.from_bytes(value, "little")
            self._last_block = True
            self._checksum = False
            self._state = "skippable data"
            if self._skip == 0:
                self._after_block()

    def _after_block(self) -> None:
        if self._state == "skippable data":
            self._expect("magic", 4)
        elif not self._last_block:
            self._expect("block", 3)
        elif self._checksum:
            self._expect("checksum", 4)
        else:
            self._frame_done()

    def _frame_done(self) -> None:
        self.frames += 1
        self._expect("magic", 4)


class _TrackingSource:
    """The compressed input, as seen by the decompressor: counted and frame-tracked."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.tracker = _FrameTracker()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self.count += len(data)
            self.tracker.feed(data)
        return data


class _Decoder:
    """Produces decompressed chunks of at most 1 MiB, or ``b""`` at a clean end."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.source = _TrackingSource(stream)
        # A frame may ask for a window of up to 2 GiB; archives from this module use at
        # most a few MiB, so anything above 32 MiB is refused rather than allocated.
        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 25)
        self._reader = dctx.stream_reader(
            cast(IO[bytes], self.source), read_size=_CHUNK, read_across_frames=True, closefd=False
        )

    def read(self) -> bytes:
        try:
            data = self._reader.read(_CHUNK)
        except zstandard.ZstdError as exc:
            raise ArchiveError(f"the archive is corrupt (zstd: {_zstd_reason(exc)})") from None
        if not data and not self.source.tracker.complete:
            if self.source.count == 0:
                raise ArchiveError("the archive is empty")
            raise ArchiveError("the archive is truncated: its zstd stream ends mid-frame")
        return data


def _zstd_reason(exc: Exception) -> str:
    text = str(exc)
    return text.removeprefix("zstd decompress error: ")


class _ThreadedFeed:
    """Runs a decoder in a helper thread, a few chunks ahead of the consumer.

    Decompression and hashing both release the GIL, so a second thread lets inflating
    the next chunk overlap hashing and writing this one. The queue bounds the memory.
    """

    def __init__(self, decoder: _Decoder, depth: int = 4) -> None:
        self._decoder = decoder
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="backup-decompress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._decoder.read()
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed over to the consumer, which re-raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __call__(self) -> bytes:
        if self._done:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if not item:
            self._done = True
        return item

    def close(self) -> None:
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)


class _ByteReader:
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
class _Member:
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


_TYPE_NAMES = {
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


def _next_member(reader: _ByteReader) -> _Member | None:
    """Read the next member header (with its pax record); None at the end-of-archive block."""
    offset = reader.offset
    block = reader.read_exact(_BLOCK)
    if block == _ZERO_BLOCK:
        return None
    name, kind, mode, size, mtime, link = _parse_header(block, offset)
    if kind == tarfile.XHDTYPE:
        if size > _MAX_PAX:
            raise ArchiveError(f"pax header at byte {offset} is larger than 1 MiB")
        pax = _parse_pax(reader.read_exact(size), offset)
        reader.skip(_padding(size))
        offset = reader.offset
        block = reader.read_exact(_BLOCK)
        if block == _ZERO_BLOCK:
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
    return _Member(name, kind, mode & 0o7777, mtime, size, link, offset)


def _split_name(member: _Member) -> tuple[str, ...]:
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


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_json_member(reader: _ByteReader, member: _Member, what: str) -> Any:
    if member.kind != tarfile.REGTYPE:
        raise ArchiveError(f"{what} is not a regular file")
    if member.size > _MAX_HEADER_MEMBER:
        raise ArchiveError(f"{what} is larger than 16 MiB")
    raw = reader.read_exact(member.size)
    reader.skip(_padding(member.size))
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ArchiveError(f"{what} is not valid JSON") from None


def _read_archive(
    reader: _ByteReader,
    sink: _Sink,
    reporter: _Reporter,
    expected_manifest_sha256: str | None,
    on_header: Callable[[dict[str, Any]], None] | None = None,
) -> ArchiveInfo:
    """Walk the whole archive, checking everything, and feed its contents to ``sink``."""
    first = _next_member(reader)
    if first is None or first.name != HEADER_MEMBER:
        raise ArchiveError(f"not a Homeport backup: the first member is not {HEADER_MEMBER}")
    header = _read_json_member(reader, first, HEADER_MEMBER)
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ArchiveError(f"not a Homeport backup: {HEADER_MEMBER} names another format")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ArchiveError(
            f"backup format version {version!r} is not supported"
            f" (this Homeport reads version {FORMAT_VERSION})"
        )
    metadata = header.get("metadata")
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{HEADER_MEMBER} has no metadata object")
    if on_header is not None:
        on_header(header)

    # The manifest this archive should carry, built from what is actually in it; the
    # real one must match it byte for byte (so every digest, mode and link agrees).
    expected = hashlib.sha256(_MANIFEST_HEAD)
    manifest_sha256: str | None = None
    files = nbytes = entries = 0
    stack: list[tuple[str, ...]] = []
    previous: tuple[str, ...] | None = None
    while True:
        member = _next_member(reader)
        if member is None:
            break
        if manifest_sha256 is not None:
            raise ArchiveError(f"member {member.name!r} follows {MANIFEST_MEMBER}; refused")
        kind = member.kind
        if kind not in (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE):
            what = _TYPE_NAMES.get(kind, f"an unsupported member type {kind!r}")
            raise ArchiveError(f"member {member.name!r} is {what}; refused")
        if kind != tarfile.REGTYPE and member.size:
            raise ArchiveError(f"member {member.name!r} has data but is not a file; refused")
        parts = _split_name(member)
        if parts == (MANIFEST_MEMBER,):
            if kind != tarfile.REGTYPE:
                raise ArchiveError(f"{MANIFEST_MEMBER} is not a regular file")
            if not stack:
                raise ArchiveError("the archive has no data directory")
            expected.update(_manifest_tail(files, nbytes, entries))
            actual = hashlib.sha256()
            for piece in reader.pieces(member.size):
                actual.update(piece)
            reader.skip(_padding(member.size))
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
        if len(rel) > _MAX_DEPTH:
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
            expected.update(_entry_line(relpath, "dir", member.mode, member.mtime))
            sink.directory(rel, member.mode, member.mtime)
            stack.append(rel)
        elif kind == tarfile.SYMTYPE:
            if not member.link or "\0" in member.link:
                raise ArchiveError(f"member {member.name!r} is a link with no target; refused")
            expected.update(
                _entry_line(relpath, "symlink", member.mode, member.mtime, target=member.link)
            )
            sink.symlink(rel, member.link, member.mtime)
        else:
            size = member.size
            fd = sink.open_file(rel, size)
            try:
                # Small files usually lie whole in the current chunk: take them in one
                # piece, padding included, instead of going through the generator.
                whole = reader.take_buffered(size + _padding(size))
                if whole is not None:
                    data = whole[:size]
                    digest = hashlib.sha256(data)
                    if fd is not None:
                        _write_all(fd, data)
                    reporter.advance(0, size)
                else:
                    digest = hashlib.sha256()
                    for piece in reader.pieces(size):
                        digest.update(piece)
                        if fd is not None:
                            _write_all(fd, piece)
                        reporter.advance(0, len(piece))
                    reader.skip(_padding(size))
            finally:
                if fd is not None:
                    sink.close_file(fd, member.mode, member.mtime)
            expected.update(
                _entry_line(
                    relpath,
                    "file",
                    member.mode,
                    member.mtime,
                    size=member.size,
                    sha256=digest.hexdigest(),
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


def _run_reader(
    stream: IO[bytes],
    sink: _Sink,
    reporter: _Reporter,
    expected_manifest_sha256: str | None,
    *,
    totals_from_header: bool,
) -> ArchiveInfo:
    decoder = _Decoder(stream)
    feed = _ThreadedFeed(decoder)
    try:

        def on_header(header: dict[str, Any]) -> None:
            if totals_from_header:
                reporter.files_total, reporter.bytes_total = _estimate(header)

        info = _read_archive(_ByteReader(feed), sink, reporter, expected_manifest_sha256, on_header)
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
    reporter = _Reporter(progress, "verify", 0, 0, progress_interval)
    return _run_reader(
        stream, _NullSink(), reporter, expected_manifest_sha256, totals_from_header=True
    )


# --------------------------------------------------------------------------- restoring


class _ExtractSink:
    """Creates what the reader finds inside a fresh, private staging directory.

    The reader guarantees that every member's parent is a directory member it has
    already passed, so every path here is made of directories this sink created itself
    with mkdir(); files are opened relative to their parent's descriptor with O_EXCL and
    O_NOFOLLOW. Nothing can be written through a link.
    """

    def __init__(self, root: Path, reporter: _Reporter) -> None:
        self.root = root
        self._reporter = reporter
        self._fds: list[int] = [os.open(root, _DIR_FLAGS)]
        self._meta: list[tuple[int, int]] = []
        self._links: list[tuple[str, ...]] = []

    def directory(self, parts: tuple[str, ...], mode: int, mtime: int) -> None:
        if not parts:
            self._meta.append((mode, mtime))
            return
        parent = self._fds[-1]
        # Directories stay private (0700) while they fill; their modes are applied
        # when the reader leaves them, so a read-only directory can still be filled.
        os.mkdir(parts[-1], 0o700, dir_fd=parent)
        self._fds.append(os.open(parts[-1], _DIR_FLAGS, dir_fd=parent))
        self._meta.append((mode, mtime))

    def leave_directory(self) -> None:
        if len(self._fds) == 1:
            return  # the root is finished last, after the links are checked
        fd = self._fds.pop()
        mode, mtime = self._meta.pop()
        try:
            os.fchmod(fd, mode & _MODE_MASK)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    def open_file(self, parts: tuple[str, ...], size: int) -> int | None:
        return os.open(parts[-1], _CREATE_FLAGS, 0o600, dir_fd=self._fds[-1])

    def close_file(self, fd: int, mode: int, mtime: int) -> None:
        try:
            os.fchmod(fd, mode & _MODE_MASK)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    def symlink(self, parts: tuple[str, ...], target: str, mtime: int) -> None:
        rel = "/".join(parts)
        if (
            os.path.isabs(target)
            or os.path.normpath(os.path.join(os.path.dirname(rel), target)).split(os.sep)[0] == ".."
        ):
            self._reporter.note(
                f"{rel}: link to {target!r} points outside the restored tree; not restored"
            )
            return
        parent = self._fds[-1]
        os.symlink(target, parts[-1], dir_fd=parent)
        os.utime(parts[-1], (mtime, mtime), dir_fd=parent, follow_symlinks=False)
        self._links.append(parts)

    def _check_links(self) -> None:
        # A link can look contained on its own and still escape through another link
        # (``x -> .`` then ``y -> x/..``), so containment is judged on the finished tree.
        root = os.path.realpath(self.root)
        for parts in self._links:
            path = os.path.join(self.root, *parts)
            resolved = os.path.realpath(path)
            if resolved == root or resolved.startswith(root + os.sep):
                continue
            target = os.readlink(path)
            parent = os.path.dirname(path)
            st = os.lstat(parent)
            os.chmod(parent, 0o700)
            os.unlink(path)
            os.chmod(parent, stat.S_IMODE(st.st_mode))
            os.utime(parent, ns=(st.st_atime_ns, st.st_mtime_ns))
            self._reporter.note(
                f"{'/'.join(parts)}: link to {target!r} resolves outside the restored tree;"
                " not restored"
            )

    def finish(self) -> None:
        """Apply the root's mode and flush the whole tree to disk."""
        while len(self._fds) > 1:
            self.leave_directory()
        self._check_links()
        root_fd = self._fds[0]
        if self._meta:
            mode, mtime = self._meta[0]
            os.fchmod(root_fd, mode & _MODE_MASK)
            os.utime(root_fd, (mtime, mtime))
        _sync_filesystem(root_fd)

    def close(self) -> None:
        for fd in self._fds:
            with suppress(OSError):
                os.close(fd)
        self._fds = []


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f"{target.name}.{kind}-{secrets.token_hex(8)}"


def _leftover_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(re.escape(target.name) + r"\.(restore|old)-[0-9a-f]{16}")


def recover_interrupted(target_dir: Path) -> list[str]:
    """Undo what an interrupted :func:`restore_archive` left beside ``target_dir``.

    Returns a description of each action (empty when there was nothing to do), suitable
    for a log. See the module docstring for the states this handles.
    """
    target = Path(target_dir)
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = _leftover_pattern(target)
    restores: list[Path] = []
    olds: list[Path] = []
    with os.scandir(parent) as it:
        for entry in it:
            match = pattern.fullmatch(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                (restores if match.group(1) == "restore" else olds).append(Path(entry.path))
    actions: list[str] = []
    if olds and not os.path.lexists(target):
        # Killed between the two renames: the old data goes back. With several (only
        # possible if recovery itself was skipped), the most recently moved one wins.
        olds.sort(key=lambda p: p.lstat().st_ctime_ns)
        keep = olds.pop()
        os.rename(keep, target)
        actions.append(
            f"put the previous data back in {target.name} from {keep.name} "
            "(a restore was interrupted during its swap)"
        )
    for path in restores:
        _remove_tree(path)
        actions.append(f"removed {path.name}, left by an interrupted restore")
    for path in olds:
        _remove_tree(path)
        actions.append(f"removed {path.name}, the data a finished restore had replaced")
    if actions:
        _fsync_dir(parent)
    return actions


def restore_archive(
    stream_factory: Callable[[], IO[bytes]],
    target_dir: Path,
    progress: ProgressCallback | None = None,
    *,
    expected_manifest_sha256: str | None = None,
    verify_first: bool = True,
    progress_interval: float = 0.5,
) -> ArchiveInfo:
    """Replace ``target_dir`` with the archive's data, all or nothing.

    ``stream_factory`` opens the archive afresh each time it is called (it is closed
    after use). With ``verify_first`` (the default) a full verification pass runs before
    anything is written. Extraction then goes to ``<target>.restore-<random>`` beside the
    target, re-checking every digest as it goes; only a complete, checked tree is synced
    to disk and swapped in (target -> ``<target>.old-<random>``, new -> target, old
    removed). If anything fails the target is untouched; if the process dies, the target
    is whole again after :func:`recover_interrupted`. ``target_dir`` need not exist, but
    its parent must, and it must not be a link.

    Progress phases are ``"verify"`` then ``"restore"``. Links that would point outside
    the restored tree are left out and listed in ``ArchiveInfo.notes``.
    """
    target = Path(os.path.abspath(target_dir))
    if not target.parent.is_dir():
        raise ArchiveError(f"cannot restore into {target}: {target.parent} is not a directory")
    if os.path.islink(target) or (os.path.lexists(target) and not target.is_dir()):
        raise ArchiveError(f"cannot restore into {target}: it is not a directory")
    recovered = recover_interrupted(target)

    checked: ArchiveInfo | None = None
    if verify_first:
        with closing(stream_factory()) as stream:
            checked = verify_archive(
                stream,
                expected_manifest_sha256=expected_manifest_sha256,
                progress=progress,
                progress_interval=progress_interval,
            )
        # The second read must be the archive that was just checked.
        expected_manifest_sha256 = checked.manifest_sha256

    staging = _sibling(target, "restore")
    os.mkdir(staging, 0o700)
    try:
        reporter = _Reporter(
            progress,
            "restore",
            checked.files if checked else 0,
            checked.bytes if checked else 0,
            progress_interval,
        )
        for action in recovered:
            reporter.note(f"before restoring: {action}")
        sink = _ExtractSink(staging, reporter)
        try:
            with closing(stream_factory()) as stream:
                info = _run_reader(
                    stream,
                    sink,
                    reporter,
                    expected_manifest_sha256,
                    totals_from_header=checked is None,
                )
            sink.finish()
            # The link check in finish() may have added notes.
            info = replace(info, notes=reporter.all_notes())
        finally:
            sink.close()
    except BaseException:
        _remove_tree(staging)
        raise

    old: Path | None = None
    if os.path.lexists(target):
        old = _sibling(target, "old")
        os.rename(target, old)
    os.rename(staging, target)
    _fsync_dir(target.parent)
    # The restore has taken effect; failing to delete the old copy must not report
    # otherwise. recover_interrupted() deletes it later.
    if old is not None:
        try:
            _remove_tree(old)
        except OSError as exc:
            reporter.note(f"the previous data in {old.name} could not be removed yet: {exc}")
            info = replace(info, notes=reporter.all_notes())
    return info
