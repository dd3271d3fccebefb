"""Restoring: checked extraction into a private staging directory, then the swap."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import replace
from pathlib import Path
from typing import IO

from homeport.domain.backup_archive.filesystem import (
    CREATE_FLAGS,
    DIR_FLAGS,
    fsync_dir,
    remove_tree,
    sync_filesystem,
)
from homeport.domain.backup_archive.format import ArchiveError, ArchiveInfo
from homeport.domain.backup_archive.progress import ProgressCallback, Reporter
from homeport.domain.backup_archive.recovery import recover_interrupted, sibling
from homeport.domain.backup_archive.verify import run_reader, verify_archive

# Files are restored without setuid/setgid: a backup must not become a way to mint
# privileged executables. The sticky bit is harmless and kept.
_MODE_MASK = 0o1777


class _ExtractSink:
    """Creates what the reader finds inside a fresh, private staging directory.

    The reader guarantees that every member's parent is a directory member it has
    already passed, so every path here is made of directories this sink created itself
    with mkdir(); files are opened relative to their parent's descriptor with O_EXCL and
    O_NOFOLLOW. Nothing can be written through a link.
    """

    def __init__(self, root: Path, reporter: Reporter) -> None:
        self.root = root
        self._reporter = reporter
        self._fds: list[int] = [os.open(root, DIR_FLAGS)]
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
        self._fds.append(os.open(parts[-1], DIR_FLAGS, dir_fd=parent))
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
        return os.open(parts[-1], CREATE_FLAGS, 0o600, dir_fd=self._fds[-1])

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
        sync_filesystem(root_fd)

    def close(self) -> None:
        for fd in self._fds:
            with suppress(OSError):
                os.close(fd)
        self._fds = []


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

    staging = sibling(target, "restore")
    os.mkdir(staging, 0o700)
    try:
        reporter = Reporter(
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
                info = run_reader(
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
        remove_tree(staging)
        raise

    old: Path | None = None
    if os.path.lexists(target):
        old = sibling(target, "old")
        os.rename(target, old)
    os.rename(staging, target)
    fsync_dir(target.parent)
    # The restore has taken effect; failing to delete the old copy must not report
    # otherwise. recover_interrupted() deletes it later.
    if old is not None:
        try:
            remove_tree(old)
        except OSError as exc:
            reporter.note(f"the previous data in {old.name} could not be removed yet: {exc}")
            info = replace(info, notes=reporter.all_notes())
    return info
