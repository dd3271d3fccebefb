"""Blob stores for backups: a local directory (the default) or S3-compatible storage.

``HOMEPORT_BACKUP_URL`` picks one (see :func:`open_blob_store`):

* ``file:///abs/path``: a directory, by default ``<data dir>/backups``.
* ``s3://bucket/optional/prefix``: any S3-compatible service through boto3. Credentials
  and region come from the usual ``AWS_*`` variables (region defaults to us-east-1); a
  non-AWS endpoint from ``HOMEPORT_S3_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3`` or
  ``AWS_ENDPOINT_URL``.

Both offer the same guarantee: a blob is either absent or complete. The local store
writes under a hidden temporary name in the blob's own directory, fsyncs, renames and
fsyncs the directory; S3 only shows an object once its upload has finished.

``put`` also checks what was stored, so that a backup need not be read back: given the
SHA-256 of the bytes the caller wrote, it fails with :class:`ChecksumMismatch` (storing
nothing) unless the stored blob has exactly that digest. The local store hashes the
bytes as it copies them (a move within one filesystem renames the very file the caller
wrote, hashed and fsynced, so there is nothing to copy or check); S3 receives every part
with its SHA-256, checks it on arrival, and reports the checksum it computed over the
parts, which must be the one computed here from the same bytes.

Keys are ``/``-separated paths of segments made of letters, digits, ``.``, ``_`` and ``-``,
each starting with a letter or digit (so never ``.``, ``..`` or a hidden name), at most
512 characters in all: nothing can escape the store's root, and the local store's hidden
temporary files can never be mistaken for blobs.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import re
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_PREFIX_RE = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/)*(?:[A-Za-z0-9][A-Za-z0-9._-]*)?")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MAX_KEY = 512
_TEMP_PREFIX = ".tmp-"
_COPY_CHUNK = 1 << 20


class BlobStoreError(Exception):
    """The blob store is misconfigured or failed; the message is safe to show."""


class ChecksumMismatch(BlobStoreError):
    """The store did not receive the bytes it was given (a put fails; nothing is stored)."""


class InvalidKey(BlobStoreError, ValueError):
    """A key (or prefix) that could escape the store or is not allowed."""


class BlobNotFound(BlobStoreError, KeyError):
    """No blob under that key."""

    def __str__(self) -> str:
        # KeyError would show the message in quotes.
        return str(self.args[0]) if self.args else "blob not found"


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or len(key) > _MAX_KEY or not _KEY_RE.fullmatch(key):
        raise InvalidKey(
            f"invalid blob key {key!r}: use '/'-separated names of letters, digits, '.', '_'"
            " and '-', each starting with a letter or digit"
        )
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if keys may start with it (empty allowed), else raise InvalidKey."""
    if not isinstance(prefix, str) or len(prefix) > _MAX_KEY or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidKey(f"invalid blob key prefix {prefix!r}")
    return prefix


class BlobStore(Protocol):
    """Where backup archives live. Every method validates its key first."""

    def put(self, key: str, source: Path, *, move: bool = False, sha256: str | None = None) -> str:
        """Store the file ``source`` under ``key`` atomically, replacing any older blob.

        With ``move`` the source file is consumed: the local store renames it into place
        when it is on the same filesystem (no copy), and every store deletes it after a
        successful put. The source must be complete and no longer written to.

        Returns the SHA-256 (hex) of the stored blob, as the store established it while
        receiving it. With ``sha256`` (the digest of the bytes the caller wrote), a blob
        whose bytes differ is never left under ``key``: the put raises
        :class:`ChecksumMismatch`.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the blob for reading from its start; the caller closes it."""
        ...

    def get(self, key: str, dest: Path) -> None:
        """Copy the blob to the local file ``dest`` (written under a temporary name first)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a complete blob is stored under ``key``."""
        ...

    def size(self, key: str) -> int:
        """The blob's size in bytes; :class:`BlobNotFound` if there is none."""
        ...

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys that start with ``prefix`` (a plain string prefix, not a glob)."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_fd(src: int, dst: int) -> None:
    """Copy until end of file, in the kernel where the filesystem allows it."""
    try:
        while os.copy_file_range(src, dst, 1 << 30):
            pass
        return
    except OSError:
        # Pipes, other filesystems on old kernels, or anything copy_file_range refuses:
        # fall back to plain reads from wherever the first attempt stopped.
        pass
    buffer = bytearray(_COPY_CHUNK)
    view = memoryview(buffer)
    while n := os.readv(src, [view]):
        chunk = view[:n]
        while chunk:
            chunk = chunk[os.write(dst, chunk) :]


def _hashing_copy(src: int, dst: int) -> str:
    """Copy until end of file through memory, hashing what is written; the SHA-256 (hex)."""
    digest = hashlib.sha256()
    buffer = bytearray(_COPY_CHUNK)
    view = memoryview(buffer)
    while n := os.readv(src, [view]):
        chunk = view[:n]
        digest.update(chunk)
        while chunk:
            chunk = chunk[os.write(dst, chunk) :]
    return digest.hexdigest()


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(_COPY_CHUNK)
    view = memoryview(buffer)
    while n := os.readv(fd, [view]):
        digest.update(view[:n])
    return digest.hexdigest()


def _mismatch(label: str, got: str, expected: str) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"blob {label!r} was not stored: the store received bytes with SHA-256 {got[:16]}..."
        f" but was given {expected[:16]}... (the file changed or was corrupted on the way)"
    )


def _atomic_copy(
    source: Path, dest: Path, *, hashed: bool = False, sha256: str | None = None
) -> str:
    """Copy ``source`` to ``dest`` so that ``dest`` is never seen incomplete.

    With ``hashed`` the copy goes through memory and returns the SHA-256 of the bytes
    written; with ``sha256`` as well, ``dest`` is only put in place if they match.
    """
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=dest.parent)
    digest = ""
    try:
        try:
            src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if hashed:
                    digest = _hashing_copy(src, fd)
                else:
                    _copy_fd(src, fd)
            finally:
                os.close(src)
            if sha256 is not None and digest != sha256:
                raise _mismatch(dest.name, digest, sha256)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, dest)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(dest.parent)
    return digest


class LocalBlobStore:
    """Blobs as files below ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def put(self, key: str, source: Path, *, move: bool = False, sha256: str | None = None) -> str:
        """Copy ``source`` in under a temporary name, fsync it, rename it, fsync the dir.

        The copy is hashed as it is written and checked against ``sha256`` before it is
        renamed into place. With ``move``, a source on the same filesystem is fsync'd and
        renamed into place instead: no byte moves, so the blob is exactly the file the
        caller wrote, and ``sha256`` (the digest the caller computed while writing it) is
        the blob's; without ``sha256`` the file is read once to compute it.
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if move:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)  # its data must be durable before its name is
                digest = sha256 if sha256 is not None else _hash_fd(fd)
            finally:
                os.close(fd)
            try:
                os.rename(source, path)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            else:
                _fsync_dir(path.parent)
                return digest
        digest = _atomic_copy(Path(source), path, hashed=True, sha256=sha256)
        if move:
            os.unlink(source)
        return digest

    def open(self, key: str) -> BinaryIO:
        """Open the blob's file for reading."""
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no blob {key!r}") from None
        return os.fdopen(fd, "rb", buffering=_COPY_CHUNK)

    def get(self, key: str, dest: Path) -> None:
        """Copy the blob to ``dest`` atomically."""
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFound(f"no blob {key!r}")
        _atomic_copy(path, Path(dest))

    def delete(self, key: str) -> None:
        """Remove the blob's file if it is there."""
        with suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(self._path(key))

    def exists(self, key: str) -> bool:
        """Whether the blob's file is there."""
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        """The blob's size in bytes."""
        try:
            return self._path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no blob {key!r}") from None

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix``; temporary files are never listed."""
        validate_prefix(prefix)
        # Only walk the deepest directory the prefix names in full.
        base_key = prefix.rpartition("/")[0]
        base = self.root.joinpath(*base_key.split("/")) if base_key else self.root
        keys: list[str] = []
        pending = [(base, base_key)]
        while pending:
            directory, rel = pending.pop()
            try:
                it = os.scandir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with it:
                for entry in it:
                    key = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if _PREFIX_RE.fullmatch(key + "/"):
                            pending.append((Path(entry.path), key))
                    elif (
                        entry.is_file(follow_symlinks=False)
                        and key.startswith(prefix)
                        and _KEY_RE.fullmatch(key)
                    ):
                        keys.append(key)
        return sorted(keys)

    def remove_stale_temp_files(self, older_than: float = 24 * 3600) -> int:
        """Delete temporary files left by writers that died mid-put; returns how many."""
        removed = 0
        cutoff = time.time() - older_than
        if not self.root.is_dir():
            return 0
        for directory, _, names in os.walk(self.root):
            for name in names:
                if not name.startswith(_TEMP_PREFIX):
                    continue
                path = os.path.join(directory, name)
                with suppress(FileNotFoundError):
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
        return removed


class _S3Reader(io.RawIOBase):
    """Reads an S3 object as a stream, resuming with a ranged GET if the connection drops.

    A multi-gigabyte download can lose its connection; the resumed request is pinned to
    the same object version with If-Match, so a blob replaced meanwhile fails instead of
    splicing two objects together.
    """

    _ATTEMPTS = 4

    def __init__(self, client: S3Client, bucket: str, key: str, label: str) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._label = label
        self._pos = 0
        response = self._get(None)
        self._etag = response["ETag"]
        self._length = response["ContentLength"]
        self._body: Any = response["Body"]

    def _get(self, etag: str | None) -> Any:
        from botocore.exceptions import ClientError

        try:
            if etag is None:
                return self._client.get_object(Bucket=self._bucket, Key=self._key)
            return self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-", IfMatch=etag
            )
        except ClientError as exc:
            if _is_not_found(exc):
                raise BlobNotFound(f"no blob {self._label!r}") from None
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise BlobStoreError(f"blob {self._label!r} changed while it was read") from None
            raise

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError

        view = memoryview(buffer).cast("B")
        if self._pos >= self._length or not len(view):
            return 0
        for attempt in range(self._ATTEMPTS):
            try:
                data = self._body.read(len(view))
            except (BotoCoreError, OSError):
                data = None
            if data:
                view[: len(data)] = data
                self._pos += len(data)
                return len(data)
            # An error, or an early end of the body: start again where we are.
            if attempt + 1 < self._ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))
                with suppress(Exception):
                    self._body.close()
                self._body = self._get(self._etag)["Body"]
        raise BlobStoreError(
            f"reading blob {self._label!r} failed at byte {self._pos} of {self._length}"
        )

    def close(self) -> None:
        if not self.closed:
            with suppress(Exception):
                self._body.close()
        super().close()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("404", "NoSuchKey", "NotFound") or status == 404


class S3BlobStore:
    """Blobs as objects ``<prefix>/<key>`` in an S3 bucket, through a boto3 client."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: S3Client,
        *,
        part_size: int = 16 << 20,
        multipart_threshold: int = 64 << 20,
    ) -> None:
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self.part_size = part_size
        self.multipart_threshold = multipart_threshold

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: Path, *, move: bool = False, sha256: str | None = None) -> str:
        """Upload ``source`` as a multipart upload checked part by part; it appears only
        when complete and checked.

        Every part is sent with its SHA-256, which S3 checks on arrival. The parts are
        read from ``source`` once, hashed as a whole on the way, and the upload is
        aborted unless that digest is ``sha256``. Once complete, the object's checksum as
        S3 computed it over the parts it received must be the one expected from those
        parts; a service that keeps no checksums is read back and hashed instead. On a
        mismatch the object is deleted (keys of backups are never reused) and
        :class:`ChecksumMismatch` raised. Files up to ``multipart_threshold`` go up as a
        single part; larger ones in parts of ``part_size`` (grown so that there are at
        most 9,000), at most four at a time, which bounds the memory used.
        """
        object_key = self._object_key(key)
        size = os.path.getsize(source)
        if size <= self.multipart_threshold:
            part = max(size, 1)
        else:
            part = max(self.part_size, -(-size // 9000))
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=object_key, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        try:
            whole, parts, digests = self._upload_parts(object_key, upload_id, Path(source), part)
            if sha256 is not None and whole != sha256:
                raise _mismatch(key, whole, sha256)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": cast(Any, parts)},
            )
        except BaseException:
            with suppress(Exception):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload_id
                )
            raise
        composite = _b64(hashlib.sha256(b"".join(digests)).digest()) + f"-{len(digests)}"
        try:
            self._check_stored(key, object_key, size, whole, composite)
        except BaseException:
            with suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=object_key)
            raise
        if move:
            os.unlink(source)
        return whole

    _CONCURRENCY = 4

    def _upload_parts(
        self, object_key: str, upload_id: str, source: Path, part_size: int
    ) -> tuple[str, list[dict[str, Any]], list[bytes]]:
        """Send ``source`` in parts; (SHA-256 of all bytes sent, parts, part digests)."""
        whole = hashlib.sha256()
        digests: list[bytes] = []
        parts: list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        with (
            open(source, "rb") as f,
            ThreadPoolExecutor(self._CONCURRENCY, thread_name_prefix="s3-upload") as pool,
        ):
            number = 0
            while True:
                data = f.read(part_size)
                if not data and number:
                    break
                number += 1
                whole.update(data)
                digest = hashlib.sha256(data).digest()
                digests.append(digest)
                pending.append(
                    pool.submit(self._upload_part, object_key, upload_id, number, data, digest)
                )
                if len(pending) >= self._CONCURRENCY:
                    parts.append(pending.popleft().result())
                if len(data) < part_size:
                    break
            while pending:
                parts.append(pending.popleft().result())
        return whole.hexdigest(), parts, digests

    def _upload_part(
        self, object_key: str, upload_id: str, number: int, data: bytes, digest: bytes
    ) -> dict[str, Any]:
        checksum = _b64(digest)
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=object_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def _check_stored(
        self, key: str, object_key: str, size: int, whole: str, composite: str
    ) -> None:
        """Make sure the stored object is the bytes sent, by the checksum S3 computed."""
        head = self.client.head_object(Bucket=self.bucket, Key=object_key, ChecksumMode="ENABLED")
        if int(head["ContentLength"]) != size:
            raise ChecksumMismatch(
                f"blob {key!r} was not stored: S3 holds {head['ContentLength']} bytes,"
                f" {size} were sent"
            )
        reported = head.get("ChecksumSHA256")
        if reported:
            # A composite checksum (of the parts' checksums), with the part count or
            # without it; some services report a checksum of the whole object instead.
            accepted = (composite, composite.rpartition("-")[0], _b64(bytes.fromhex(whole)))
            if reported not in accepted:
                raise ChecksumMismatch(
                    f"blob {key!r} was not stored: S3's checksum {reported} is not the"
                    f" {composite} of the parts sent"
                )
            return
        # No checksum kept by this service: read the object back and hash it.
        with self.open(key) as stream:
            digest = hashlib.sha256()
            while chunk := stream.read(_COPY_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != whole:
            raise _mismatch(key, digest.hexdigest(), whole)

    def open(self, key: str) -> BinaryIO:
        """Stream the object; a dropped connection is resumed where it stopped."""
        raw = _S3Reader(self.client, self.bucket, self._object_key(key), key)
        return io.BufferedReader(raw, buffer_size=_COPY_CHUNK)

    def get(self, key: str, dest: Path) -> None:
        """Download to a temporary file beside ``dest``, fsync it, then rename it."""
        from botocore.exceptions import ClientError

        dest = Path(dest)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=dest.parent)
        os.close(fd)
        try:
            try:
                self.client.download_file(self.bucket, self._object_key(key), tmp)
            except ClientError as exc:
                if _is_not_found(exc):
                    raise BlobNotFound(f"no blob {key!r}") from None
                raise
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.rename(tmp, dest)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(dest.parent)

    def delete(self, key: str) -> None:
        """Delete the object (S3 does not mind if it is missing)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def _head(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return self._head(key) is not None

    def size(self, key: str) -> int:
        """The object's size in bytes."""
        head = self._head(key)
        if head is None:
            raise BlobNotFound(f"no blob {key!r}")
        return int(head["ContentLength"])

    def list_keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix`` below this store's prefix."""
        validate_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(base) :]
                if _KEY_RE.fullmatch(key):
                    keys.append(key)
        return sorted(keys)


def open_blob_store(url: str, env: Mapping[str, str]) -> BlobStore:
    """Build the blob store named by ``url`` (``HOMEPORT_BACKUP_URL``).

    ``file:///absolute/path`` gives a :class:`LocalBlobStore`; ``s3://bucket/prefix`` an
    :class:`S3BlobStore` whose client takes its credentials, region (default us-east-1)
    and endpoint from ``env``. Path-style addressing is used with a custom endpoint,
    which is what MinIO, Ceph and similar servers expect.
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise BlobStoreError("HOMEPORT_BACKUP_URL must not have a query or fragment")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BlobStoreError(
                "HOMEPORT_BACKUP_URL file:// URLs need an absolute path (file:///path)"
            )
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise BlobStoreError("HOMEPORT_BACKUP_URL file:// URLs need an absolute path")
        return LocalBlobStore(Path(path))
    if parts.scheme == "s3":
        if "@" in parts.netloc:
            raise BlobStoreError(
                "put S3 credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,"
                " not in HOMEPORT_BACKUP_URL"
            )
        bucket = parts.netloc
        if not _BUCKET_RE.fullmatch(bucket):
            raise BlobStoreError(f"HOMEPORT_BACKUP_URL names an invalid S3 bucket {bucket!r}")
        prefix = unquote(parts.path).strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except InvalidKey:
                raise BlobStoreError(
                    f"HOMEPORT_BACKUP_URL has an invalid S3 key prefix {prefix!r}"
                ) from None
        return S3BlobStore(bucket, prefix, _s3_client(env))
    raise BlobStoreError("HOMEPORT_BACKUP_URL must start with file:// or s3://")


def _s3_client(env: Mapping[str, str]) -> S3Client:
    # boto3 is imported here, not at module level: it takes a noticeable time to load
    # and most installations keep their backups in a local directory.
    import boto3
    from botocore.config import Config

    endpoint = (
        env.get("HOMEPORT_S3_ENDPOINT_URL")
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or None
    )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=region,
        profile_name=env.get("AWS_PROFILE") or None,
    )
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    return session.client("s3", endpoint_url=endpoint, config=config)
