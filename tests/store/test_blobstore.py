"""Blob stores: key safety, the local directory store, and S3 against a real moto server."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from homeport.domain.backup_archive import (
    ArchiveError,
    restore_archive,
    verify_archive,
    write_archive,
)
from homeport.store.blobstore import (
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    ChecksumMismatch,
    InvalidKey,
    LocalBlobStore,
    S3BlobStore,
    open_blob_store,
    validate_key,
)

BAD_KEYS = [
    "",
    "/absolute",
    "../up",
    "a/../b",
    "a/./b",
    "..",
    ".hidden",
    "a/.tmp-123",
    "a//b",
    "trailing/",
    "back\\slash",
    "sp ace",
    "ünï",
    "nul\0byte",
    "x" * 600,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_everywhere(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "source"
    source.write_bytes(b"x")
    with pytest.raises(InvalidKey):
        validate_key(key)
    with pytest.raises(InvalidKey):
        store.put(key, source)
    with pytest.raises(InvalidKey):
        store.exists(key)
    with pytest.raises(InvalidKey):
        store.open(key)
    assert not (tmp_path / "up").exists()


def test_valid_keys() -> None:
    for key in ["a", "proj-1/env_main/backup.2024-01-01T00-00-00.tar.zst", "A9/b.c-d_e"]:
        assert validate_key(key) == key


def exercise_store(store: BlobStore, tmp_path: Path) -> None:
    """The contract both implementations must meet."""
    source = tmp_path / "payload.bin"
    payload = os.urandom(300_000)
    source.write_bytes(payload)
    assert store.list_keys() == []
    assert not store.exists("p1/env/b1.tar.zst")

    store.put("p1/env/b1.tar.zst", source)
    store.put("p1/env/b2.tar.zst", source)
    store.put("p1/other/b3.tar.zst", source)
    store.put("p10/env/b4.tar.zst", source)
    assert store.exists("p1/env/b1.tar.zst")
    assert store.size("p1/env/b1.tar.zst") == len(payload)
    with store.open("p1/env/b1.tar.zst") as stream:
        assert stream.read() == payload
    with store.open("p1/env/b1.tar.zst") as stream:  # reading in pieces
        pieces = []
        while piece := stream.read(65_536):
            pieces.append(piece)
        assert b"".join(pieces) == payload

    assert store.list_keys() == [
        "p1/env/b1.tar.zst",
        "p1/env/b2.tar.zst",
        "p1/other/b3.tar.zst",
        "p10/env/b4.tar.zst",
    ]
    assert store.list_keys("p1/") == [
        "p1/env/b1.tar.zst",
        "p1/env/b2.tar.zst",
        "p1/other/b3.tar.zst",
    ]
    assert store.list_keys("p1") == store.list_keys()  # a plain string prefix
    assert store.list_keys("p1/env/b") == ["p1/env/b1.tar.zst", "p1/env/b2.tar.zst"]
    assert store.list_keys("nothing/") == []

    dest = tmp_path / "downloaded.bin"
    store.get("p1/env/b2.tar.zst", dest)
    assert dest.read_bytes() == payload

    replacement = tmp_path / "replacement.bin"
    replacement.write_bytes(b"new")
    store.put("p1/env/b2.tar.zst", replacement)
    with store.open("p1/env/b2.tar.zst") as stream:
        assert stream.read() == b"new"

    store.delete("p1/env/b1.tar.zst")
    store.delete("p1/env/b1.tar.zst")  # deleting twice is fine
    assert not store.exists("p1/env/b1.tar.zst")
    with pytest.raises(BlobNotFound):
        store.size("p1/env/b1.tar.zst")
    with pytest.raises(BlobNotFound):
        store.open("p1/env/b1.tar.zst")
    with pytest.raises(BlobNotFound):
        store.get("p1/env/b1.tar.zst", tmp_path / "never.bin")
    assert not (tmp_path / "never.bin").exists()
    assert "p1/env/b1.tar.zst" not in store.list_keys()


def test_local_store(tmp_path: Path) -> None:
    exercise_store(LocalBlobStore(tmp_path / "blobs"), tmp_path)
    leftovers = [p.name for p in (tmp_path / "blobs").rglob(".tmp-*")]
    assert leftovers == []


def test_put_can_move_the_source_instead_of_copying(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    spool = tmp_path / "spool.tar.zst"
    spool.write_bytes(b"archive bytes")
    inode = spool.stat().st_ino
    store.put("p/e/b.tar.zst", spool, move=True)
    assert not spool.exists()
    assert (tmp_path / "blobs" / "p" / "e" / "b.tar.zst").stat().st_ino == inode
    with store.open("p/e/b.tar.zst") as stream:
        assert stream.read() == b"archive bytes"


def test_local_store_never_lists_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    (tmp_path / "blobs" / "p").mkdir(parents=True)
    (tmp_path / "blobs" / "p" / ".tmp-abc").write_bytes(b"partial")
    (tmp_path / "blobs" / "p" / "ok").write_bytes(b"done")
    assert store.list_keys() == ["p/ok"]
    assert store.remove_stale_temp_files(older_than=3600) == 0
    assert store.remove_stale_temp_files(older_than=0) == 1
    assert store.list_keys() == ["p/ok"]


def test_open_blob_store_urls(tmp_path: Path) -> None:
    local = open_blob_store(f"file://{tmp_path}/backups", {})
    assert isinstance(local, LocalBlobStore)
    assert local.root == tmp_path / "backups"
    assert isinstance(open_blob_store(f"file://localhost{tmp_path}", {}), LocalBlobStore)
    for bad in [
        "file://relative/path",
        "file:relative",
        "http://example.com/backups",
        "backups",
        "s3://",
        "s3://Bad_Bucket/x",
        "s3://key:secret@bucket/x",
        "s3://bucket/../escape",
        "s3://bucket/a//b",
        "s3://bucket/x?versioning=1",
    ]:
        with pytest.raises(BlobStoreError):
            open_blob_store(bad, {})


def test_open_blob_store_s3_settings() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "HOMEPORT_S3_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    store = open_blob_store("s3://my-bucket/homeport/backups/", env)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "homeport/backups")
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert store.client.meta.region_name == "us-east-1"
    generic = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:10",
        "AWS_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    other = open_blob_store("s3://my-bucket", generic)
    assert isinstance(other, S3BlobStore)
    assert other.prefix == ""
    assert other.client.meta.endpoint_url == "http://127.0.0.1:10"
    assert other.client.meta.region_name == "eu-west-3"


# --------------------------------------------------------------------------- killed put


PUT_FROM_FIFO = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from homeport.store.blobstore import LocalBlobStore

    LocalBlobStore(Path(sys.argv[1])).put("p/env/backup.tar.zst", Path(sys.argv[2]))
    """
)


@pytest.mark.slow
def test_a_put_killed_midway_leaves_no_visible_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = LocalBlobStore(root)
    old = tmp_path / "old.bin"
    old.write_bytes(b"the previous backup")
    store.put("p/env/backup.tar.zst", old)

    # The writer copies from a FIFO, so it is provably in the middle of its copy (some
    # bytes in, more to come) when it is killed.
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    child = subprocess.Popen([sys.executable, "-c", PUT_FROM_FIFO, str(root), str(fifo)])
    try:
        feed = os.open(fifo, os.O_WRONLY)
        os.write(feed, os.urandom(1 << 20))
        deadline = time.monotonic() + 20
        while not [p for p in (root / "p" / "env").glob(".tmp-*") if p.stat().st_size]:
            assert time.monotonic() < deadline, "the writer never started copying"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        os.close(feed)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert store.list_keys() == ["p/env/backup.tar.zst"]
    with store.open("p/env/backup.tar.zst") as stream:
        assert stream.read() == b"the previous backup"
    assert store.remove_stale_temp_files(older_than=0) == 1


# --------------------------------------------------------------------------- S3 (moto)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server: moto in server mode, in its own process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def s3_store(endpoint: str, url: str) -> S3BlobStore:
    store = open_blob_store(url, {**S3_ENV, "HOMEPORT_S3_ENDPOINT_URL": endpoint})
    assert isinstance(store, S3BlobStore)
    with contextlib.suppress(store.client.exceptions.BucketAlreadyOwnedByYou):
        store.client.create_bucket(Bucket=store.bucket)
    return store


@pytest.mark.slow
def test_s3_store(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, "s3://homeport-test/site-a/backups")
    exercise_store(store, tmp_path)
    neighbour = s3_store(s3_endpoint, "s3://homeport-test/site-b")
    assert neighbour.list_keys() == []
    keys = store.client.list_objects_v2(Bucket="homeport-test")["Contents"]
    assert all(obj["Key"].startswith("site-a/backups/") for obj in keys)


@pytest.mark.slow
def test_s3_multipart_upload(s3_endpoint: str, tmp_path: Path) -> None:
    base = s3_store(s3_endpoint, "s3://homeport-multipart")
    store = S3BlobStore(
        base.bucket, "big", base.client, part_size=5 << 20, multipart_threshold=5 << 20
    )
    source = tmp_path / "big.bin"
    payload = os.urandom((11 << 20) + 7)
    source.write_bytes(payload)
    store.put("b.tar.zst", source, move=True)
    assert not source.exists()
    head = store.client.head_object(Bucket=store.bucket, Key="big/b.tar.zst")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    with store.open("b.tar.zst") as stream:
        assert stream.read() == payload


class _BreakingBody:
    def __init__(self, body: Any, after: int) -> None:
        self._body = body
        self._left = after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise ConnectionResetError("connection reset by peer (simulated)")
        data: bytes = self._body.read(min(size, self._left) if size > 0 else self._left)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


class _DroppingClient:
    """A real client whose first download breaks partway, like a flaky network."""

    def __init__(self, real: Any, after: int, before_resume: Any = None) -> None:
        self._real = real
        self._after = after
        self._before_resume = before_resume
        self.requests: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def get_object(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        if len(self.requests) > 1 and self._before_resume is not None:
            self._before_resume()
        response = self._real.get_object(**kwargs)
        if len(self.requests) == 1:
            response["Body"] = _BreakingBody(response["Body"], self._after)
        return response


@pytest.mark.slow
def test_s3_reads_resume_after_a_dropped_connection(s3_endpoint: str, tmp_path: Path) -> None:
    base = s3_store(s3_endpoint, "s3://homeport-resume")
    source = tmp_path / "blob.bin"
    payload = os.urandom(3 << 20)
    source.write_bytes(payload)
    base.put("k", source)

    flaky = _DroppingClient(base.client, after=1_000_000)
    store = S3BlobStore(base.bucket, "", cast(Any, flaky))
    with store.open("k") as stream:
        assert stream.read() == payload
    assert len(flaky.requests) == 2
    assert flaky.requests[1]["Range"] == "bytes=1000000-"
    assert flaky.requests[1]["IfMatch"]

    # If the blob is replaced while it is being read, the resumed read must not splice.
    replacement = tmp_path / "other.bin"
    replacement.write_bytes(os.urandom(3 << 20))
    swapping = _DroppingClient(
        base.client, after=1_000_000, before_resume=lambda: base.put("k", replacement)
    )
    store = S3BlobStore(base.bucket, "", cast(Any, swapping))
    with pytest.raises(BlobStoreError, match="changed while it was read"), store.open("k") as s:
        s.read()


@pytest.mark.slow
def test_backup_to_s3_and_restore(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, "s3://homeport-roundtrip/prod")
    source = tmp_path / "env-data"
    (source / "uploads" / "empty").mkdir(parents=True)
    (source / "uploads" / "a.bin").write_bytes(os.urandom(2 << 20))
    (source / "notes.txt").write_text("hello\n" * 1000)
    os.symlink("uploads/a.bin", source / "latest")
    spool = tmp_path / "spool.tar.zst"
    written = write_archive(source, spool, {"head_commit": "f00d"})
    key = "project-1/main/backup-1.tar.zst"
    store.put(key, spool)
    assert store.size(key) == written.archive_bytes
    with store.open(key) as stream:
        checked = verify_archive(stream, expected_manifest_sha256=written.manifest_sha256)
    assert checked.metadata == {"head_commit": "f00d"}

    target = tmp_path / "restored"
    target.mkdir()
    (target / "stale.txt").write_text("stale")
    restore_archive(
        lambda: store.open(key), target, expected_manifest_sha256=written.manifest_sha256
    )
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "latest",
        "notes.txt",
        "uploads",
        "uploads/a.bin",
        "uploads/empty",
    ]
    assert (target / "uploads" / "a.bin").read_bytes() == (
        source / "uploads" / "a.bin"
    ).read_bytes()
    assert os.readlink(target / "latest") == "uploads/a.bin"


# --------------------------------------------------------------------------- checked puts
#
# A backup is not read back after it is stored: the store's own digest of what it
# received is compared with the digest of the bytes the archive writer produced. These
# tests fail if that check is skipped or answers without looking at the bytes.


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_local_put_returns_the_digest_of_what_it_stored(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    payload = os.urandom(3 << 20)
    source = tmp_path / "a.bin"
    source.write_bytes(payload)
    assert store.put("p/copied", source) == _sha256(payload)
    assert store.put("p/checked", source, sha256=_sha256(payload)) == _sha256(payload)
    assert store.put("p/moved", source, move=True) == _sha256(payload)
    with store.open("p/moved") as stream:
        assert stream.read() == payload


def test_local_put_refuses_bytes_that_are_not_the_ones_written(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "a.bin"
    written = os.urandom(1 << 20)
    source.write_bytes(written)
    # The file changed after its digest was taken (a torn or corrupted spool).
    source.write_bytes(written[:-1] + bytes([written[-1] ^ 1]))
    with pytest.raises(ChecksumMismatch, match="was not stored"):
        store.put("p/b.tar.zst", source, sha256=_sha256(written))
    assert not store.exists("p/b.tar.zst")
    assert list((tmp_path / "blobs").rglob(".tmp-*")) == []


def test_a_move_across_filesystems_is_copied_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "spool.tar.zst"
    written = os.urandom(1 << 20)
    source.write_bytes(written[:1000] + b"X" + written[1001:])
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ChecksumMismatch):
        store.put("p/b.tar.zst", source, move=True, sha256=_sha256(written))
    assert source.exists()  # not consumed by a failed put
    assert not store.exists("p/b.tar.zst")
    source.write_bytes(written)
    assert store.put("p/b.tar.zst", source, move=True, sha256=_sha256(written))
    assert not source.exists()
    with store.open("p/b.tar.zst") as stream:
        assert stream.read() == written


class _CorruptingClient:
    """A real client that damages one uploaded part on the way, keeping its checksum
    header: the server receives other bytes than were sent."""

    def __init__(self, real: Any, *, keep_checksums: bool = True) -> None:
        self._real = real
        self._keep_checksums = keep_checksums
        self.corrupt = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def upload_part(self, **kwargs: Any) -> Any:
        if self.corrupt and kwargs["PartNumber"] == 1:
            body = bytearray(kwargs["Body"])
            body[len(body) // 2] ^= 0xFF
            kwargs["Body"] = bytes(body)
        return self._real.upload_part(**kwargs)

    def head_object(self, **kwargs: Any) -> Any:
        head = self._real.head_object(**kwargs)
        if not self._keep_checksums:  # a service that keeps no checksums
            head.pop("ChecksumSHA256", None)
        return head


def _no_uploads_left(store: S3BlobStore) -> bool:
    return not store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")


@pytest.mark.slow
@pytest.mark.parametrize("size", [300_000, (11 << 20) + 7])
def test_s3_put_reports_the_checksum_it_received(
    s3_endpoint: str, tmp_path: Path, size: int
) -> None:
    base = s3_store(s3_endpoint, "s3://homeport-checked")
    store = S3BlobStore(
        base.bucket, "c", base.client, part_size=5 << 20, multipart_threshold=5 << 20
    )
    payload = os.urandom(size)
    source = tmp_path / "a.bin"
    source.write_bytes(payload)
    assert store.put("a", source, sha256=_sha256(payload)) == _sha256(payload)
    head = store.client.head_object(Bucket=store.bucket, Key="c/a", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"]  # S3 computed and kept a checksum of what it received
    with store.open("a") as stream:
        assert stream.read() == payload


@pytest.mark.slow
def test_s3_put_refuses_a_file_that_is_not_the_one_written(
    s3_endpoint: str, tmp_path: Path
) -> None:
    store = s3_store(s3_endpoint, "s3://homeport-checked")
    source = tmp_path / "a.bin"
    written = os.urandom(300_000)
    source.write_bytes(written[::-1])
    with pytest.raises(ChecksumMismatch):
        store.put("wrong", source, move=True, sha256=_sha256(written))
    assert source.exists()
    assert not store.exists("wrong")
    assert _no_uploads_left(store)


@pytest.mark.slow
@pytest.mark.parametrize("keep_checksums", [True, False])
def test_s3_put_catches_bytes_damaged_on_the_way(
    s3_endpoint: str, tmp_path: Path, keep_checksums: bool
) -> None:
    base = s3_store(s3_endpoint, "s3://homeport-checked")
    client = _CorruptingClient(base.client, keep_checksums=keep_checksums)
    store = S3BlobStore(
        base.bucket, "d", cast(Any, client), part_size=5 << 20, multipart_threshold=5 << 20
    )
    payload = os.urandom((11 << 20) + 7)
    source = tmp_path / "a.bin"
    source.write_bytes(payload)
    with pytest.raises((ChecksumMismatch, ClientError)):
        store.put("damaged", source, sha256=_sha256(payload))
    assert not store.exists("damaged")
    assert _no_uploads_left(store)
    client.corrupt = False
    assert store.put("damaged", source, sha256=_sha256(payload)) == _sha256(payload)


def _corrupt_stored(store: BlobStore, key: str, tmp_path: Path) -> None:
    """Flip a byte in the middle of a stored blob, behind the store's back."""
    if isinstance(store, LocalBlobStore):
        path = store.root / key
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        return
    assert isinstance(store, S3BlobStore)
    name = f"{store.prefix}/{key}" if store.prefix else key
    data = bytearray(store.client.get_object(Bucket=store.bucket, Key=name)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    store.client.put_object(Bucket=store.bucket, Key=name, Body=bytes(data))


def _backup_then_corrupt_then_restore(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "env-data"
    (source / "uploads").mkdir(parents=True)
    (source / "uploads" / "a.bin").write_bytes(os.urandom(2 << 20))
    (source / "notes.txt").write_text("hello\n" * 1000)
    spool = tmp_path / "spool.tar.zst"
    written = write_archive(source, spool, {})
    key = "project-1/main/backup-1.tar.zst"
    assert store.put(key, spool, move=True, sha256=written.archive_sha256)
    target = tmp_path / "restored"
    target.mkdir()
    (target / "kept.txt").write_text("the data before the restore")
    _corrupt_stored(store, key, tmp_path)
    with pytest.raises(ArchiveError):
        restore_archive(
            lambda: store.open(key), target, expected_manifest_sha256=written.manifest_sha256
        )
    assert [p.name for p in target.iterdir()] == ["kept.txt"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("restored.")) == []
    with pytest.raises(ArchiveError), store.open(key) as stream:
        verify_archive(stream, expected_manifest_sha256=written.manifest_sha256)


def test_a_local_blob_corrupted_after_it_was_stored_is_refused_at_restore(
    tmp_path: Path,
) -> None:
    _backup_then_corrupt_then_restore(LocalBlobStore(tmp_path / "blobs"), tmp_path)


@pytest.mark.slow
def test_an_s3_blob_corrupted_after_it_was_stored_is_refused_at_restore(
    s3_endpoint: str, tmp_path: Path
) -> None:
    _backup_then_corrupt_then_restore(s3_store(s3_endpoint, "s3://homeport-rot/x"), tmp_path)
