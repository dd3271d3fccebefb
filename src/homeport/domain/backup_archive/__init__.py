"""Crash-safe backup archives: a streaming tar compressed with zstd, checked by a manifest.

Plain Python: no database, no HTTP. The worker calls :func:`write_archive` to make a
backup (its ``ArchiveInfo.archive_sha256`` is what the blob store checks the stored copy
against), :func:`restore_archive` to put a backup back (verifying the whole archive
first), and :func:`recover_interrupted` at start-up; :func:`verify_archive` checks a
stored archive in full on demand.

Format (version 2)
==================

One zstd stream (with zstd's content checksum on) holding a POSIX tar (pax) with, in
this order:

1. ``homeport-backup.json``: ``{"format": "homeport-backup", "version": 2, "created":
   ..., "estimate": {"files": n, "bytes": n, "entries": n}, "metadata": {...}}``.
   ``metadata`` is whatever the caller passed (head commit, variables snapshot). It is
   stored as plain JSON, so callers must pass sensitive values only in encrypted form.
2. ``data`` (the data area's root directory), then every entry below it as
   ``data/<path>``, depth first, names sorted by code point. Only directories, regular
   files and symbolic links are stored; sockets, FIFOs and devices are skipped with a
   note. Hard-linked files are stored once per name (they come back as copies).
3. ``MANIFEST.json``: every entry of ``data`` in archive order with its type, mode,
   mtime, and the size and BLAKE3 digest of files or the target of links. It is
   ordinary JSON written one entry per line so that it can be checked as a stream in
   bounded memory::

       {"format":"homeport-backup-manifest","version":2,"entries":[
       {"path":".","type":"dir","mode":"0755","mtime":1700000000},
       {"path":"a.txt","type":"file","mode":"0644","mtime":1700000000,"size":3,"blake3":"..."}
       ],"files":1,"bytes":3,"entry_count":2}

Version 1 is the same but for each file's digest, a SHA-256 under ``"sha256"``. Both
are read: an archive is checked with the digest of the version in its header
(``format.FILE_DIGESTS``), so a version-1 backup restores as it always did.

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

Modules
=======

``format`` (names, limits, tar headers, manifest lines, :class:`ArchiveError`,
:class:`ArchiveInfo`), ``progress`` (:class:`Progress` and its throttling),
``filesystem`` (link-safe descriptors, syncing, removal), ``threads`` (the compression
and decompression helper threads), ``writer`` (:func:`write_archive`), ``zstd_stream`` and
``tar_reader`` (the two layers of reading), ``verify`` (:func:`verify_archive`),
``recovery`` (crash states, :func:`recover_interrupted`) and ``restore``
(:func:`restore_archive`). Import from this package, not from the modules.
"""

from homeport.domain.backup_archive.filesystem import directory_size
from homeport.domain.backup_archive.format import (
    DATA_MEMBER,
    DEFAULT_LEVEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_MEMBER,
    MANIFEST_FORMAT_NAME,
    MANIFEST_MEMBER,
    ArchiveError,
    ArchiveInfo,
)
from homeport.domain.backup_archive.progress import Progress, ProgressCallback
from homeport.domain.backup_archive.recovery import recover_interrupted
from homeport.domain.backup_archive.restore import restore_archive
from homeport.domain.backup_archive.verify import verify_archive
from homeport.domain.backup_archive.writer import write_archive

__all__ = [
    "DATA_MEMBER",
    "DEFAULT_LEVEL",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_MEMBER",
    "MANIFEST_FORMAT_NAME",
    "MANIFEST_MEMBER",
    "ArchiveError",
    "ArchiveInfo",
    "Progress",
    "ProgressCallback",
    "directory_size",
    "recover_interrupted",
    "restore_archive",
    "verify_archive",
    "write_archive",
]
