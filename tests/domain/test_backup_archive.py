"""Backup archives: round trips, corruption, hostile archives and crash safety."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest
import zstandard

from homeport.domain.backup_archive import (
    ArchiveError,
    ArchiveInfo,
    Progress,
    directory_size,
    recover_interrupted,
    restore_archive,
    verify_archive,
    write_archive,
)

Snapshot = dict[str, tuple[Any, ...]]
MTIME = 1_700_000_000
LONG_NAME = "long-" + "n" * 140 + ".txt"


def make_tree(root: Path) -> None:
    """A data area with the cases a backup must carry: binary, text, modes, links, dirs."""
    root.mkdir()
    (root / "docs" / "deep" / "er").mkdir(parents=True)
    (root / "empty" / "nested-empty").mkdir(parents=True)
    (root / "media").mkdir()
    # Over 1 MiB, so file data crosses the reader's and writer's chunk boundaries.
    (root / "media" / "photo.bin").write_bytes(os.urandom((3 << 20) + 123))
    (root / "media" / "empty.bin").write_bytes(b"")
    (root / "docs" / "readme.txt").write_text("hello\n" * 1000)
    (root / "docs" / "deep" / "er" / "notes.md").write_text("# notes\n")
    (root / "docs" / "ünïcödé ✓.txt").write_text("unicode name\n")
    (root / "docs" / LONG_NAME).write_text("long name\n")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    secret = root / "secret.key"
    secret.write_text("not really\n")
    secret.chmod(0o600)
    readonly = root / "readonly"
    readonly.mkdir()
    (readonly / "fixed.txt").write_text("fixed\n")
    (readonly / "fixed.txt").chmod(0o444)
    (root / "setuid").write_text("#!/bin/sh\n")
    (root / "setuid").chmod(0o4755)
    os.symlink("docs/readme.txt", root / "link-to-file")
    os.symlink("docs/deep", root / "link-to-dir")
    os.symlink("missing-target", root / "dangling")
    os.symlink("/etc/passwd", root / "absolute-outside")
    os.symlink("../../outside", root / "docs" / "relative-outside")
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (MTIME, MTIME), follow_symlinks=False)
        os.utime(dirpath, (MTIME, MTIME))
    readonly.chmod(0o555)


def snapshot(root: Path) -> Snapshot:
    """Every entry below ``root`` (and root itself): type, mode, mtime, content or target."""
    result: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name if name != "." else Path(dirpath)
            rel = os.path.relpath(path, root)
            if name == "." and rel != ".":
                continue
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", mode, int(st.st_mtime))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                result[rel] = ("file", mode, int(st.st_mtime), st.st_size, digest)
    return result


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name != target.name)


def opener(path: Path) -> Callable[[], io.BufferedReader]:
    return lambda: open(path, "rb")


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "source"
    make_tree(root)
    yield root
    _make_writable(tmp_path)


def _make_writable(root: Path) -> None:
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, 0o700)


@pytest.fixture
def archive(tmp_path: Path, tree: Path) -> tuple[Path, ArchiveInfo]:
    path = tmp_path / "backup.tar.zst"
    info = write_archive(tree, path, {"head_commit": "abc123", "variables": {"env:A": "1"}})
    return path, info


def expected_after_restore(source: Snapshot) -> Snapshot:
    """What a restore must produce: links out of the tree left out, setuid dropped."""
    expected = {
        k: v for k, v in source.items() if k not in ("absolute-outside", "docs/relative-outside")
    }
    kind, mode, *rest = expected["setuid"]
    expected["setuid"] = (kind, mode & ~0o6000, *rest)
    return expected


# --------------------------------------------------------------------------- round trip


def test_round_trip_keeps_data_modes_links_and_empty_dirs(
    tmp_path: Path, tree: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, written = archive
    source = snapshot(tree)
    with open(path, "rb") as stream:
        checked = verify_archive(stream, expected_manifest_sha256=written.manifest_sha256)
    assert checked.manifest_sha256 == written.manifest_sha256
    assert checked.metadata == {"head_commit": "abc123", "variables": {"env:A": "1"}}
    assert checked.files == written.files == 10
    assert checked.bytes == written.bytes == directory_size(tree)
    assert checked.archive_bytes == written.archive_bytes == path.stat().st_size
    assert checked.created == written.created

    target = tmp_path / "restored"
    restored = restore_archive(opener(path), target)
    assert restored.manifest_sha256 == written.manifest_sha256
    assert snapshot(target) == expected_after_restore(source)
    assert os.readlink(target / "link-to-dir") == "docs/deep"
    assert (target / "link-to-file").read_text() == "hello\n" * 1000
    assert stat.S_IMODE((target / "setuid").stat().st_mode) == 0o755
    assert any("absolute-outside" in note for note in restored.notes)
    assert any("relative-outside" in note for note in restored.notes)
    assert siblings(target) == ["backup.tar.zst", "source"]
    _make_writable(target)


def test_single_pass_restore_gives_the_same_tree(
    tmp_path: Path, tree: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, _ = archive
    target = tmp_path / "restored"
    restore_archive(opener(path), target, verify_first=False)
    assert snapshot(target) == expected_after_restore(snapshot(tree))
    _make_writable(target)


def test_restore_replaces_existing_data_entirely(
    tmp_path: Path, tree: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, _ = archive
    target = tmp_path / "data"
    (target / "stale" / "ro").mkdir(parents=True)
    (target / "stale" / "ro" / "old.txt").write_text("old")
    (target / "stale" / "ro").chmod(0o555)  # the old copy must still be removable
    restore_archive(opener(path), target)
    assert snapshot(target) == expected_after_restore(snapshot(tree))
    assert siblings(target) == ["backup.tar.zst", "source"]
    _make_writable(target)


def test_archive_is_a_standard_tar_zst(archive: tuple[Path, ArchiveInfo]) -> None:
    path, info = archive
    with open(path, "rb") as compressed:
        plain = zstandard.ZstdDecompressor().stream_reader(compressed).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
        manifest_bytes = tar.extractfile("MANIFEST.json").read()  # type: ignore[union-attr]
        header = json.load(tar.extractfile("homeport-backup.json"))  # type: ignore[arg-type]
    assert names[0] == "homeport-backup.json"
    assert names[1] == "data"
    assert names[-1] == "MANIFEST.json"
    assert f"data/docs/{LONG_NAME}" in names
    assert hashlib.sha256(manifest_bytes).hexdigest() == info.manifest_sha256
    manifest = json.loads(manifest_bytes)
    by_path = {entry["path"]: entry for entry in manifest["entries"]}
    assert by_path["run.sh"]["mode"] == "0750"
    assert by_path["absolute-outside"] == {
        "path": "absolute-outside",
        "type": "symlink",
        "mode": "0777",
        "mtime": MTIME,
        "target": "/etc/passwd",
    }
    # Format 2: each file's BLAKE3, computed here independently of the writer.
    assert header["version"] == manifest["version"] == 2
    assert by_path["media/empty.bin"]["blake3"] == blake3.blake3(b"").hexdigest()
    script = plain_tree_file(plain, "data/run.sh")
    assert by_path["run.sh"]["blake3"] == blake3.blake3(script).hexdigest()
    assert all("sha256" not in entry for entry in manifest["entries"])
    assert manifest["files"] == info.files
    assert header["format"] == "homeport-backup"
    assert header["metadata"]["head_commit"] == "abc123"


def plain_tree_file(plain_tar: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(plain_tar)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("zstd") and shutil.which("tar")), reason="needs zstd, tar")
def test_plain_zstd_and_tar_can_read_a_backup(archive: tuple[Path, ArchiveInfo]) -> None:
    path, _ = archive
    # The disaster-recovery promise: no Homeport needed to get the data back.
    unzstd = subprocess.Popen(["zstd", "-dc", str(path)], stdout=subprocess.PIPE)
    listing = subprocess.run(
        ["tar", "-tvf", "-"], stdin=unzstd.stdout, capture_output=True, text=True, check=True
    )
    assert unzstd.wait() == 0
    lines = listing.stdout.splitlines()
    assert any(line.endswith(" data/docs/readme.txt") for line in lines)
    assert any(line.endswith(" data/link-to-dir -> docs/deep") for line in lines)


def test_write_to_a_stream_and_metadata_must_be_json(tmp_path: Path, tree: Path) -> None:
    buffer = io.BytesIO()
    info = write_archive(tree, buffer, {"n": 1})
    buffer.seek(0)
    assert verify_archive(buffer).manifest_sha256 == info.manifest_sha256
    with pytest.raises(ArchiveError, match="JSON"):
        write_archive(tree, tmp_path / "x.tar.zst", {"bad": object()})
    assert not (tmp_path / "x.tar.zst").exists()
    with pytest.raises(ArchiveError, match="not a directory"):
        write_archive(tree / "link-to-dir", io.BytesIO(), {})


def test_archive_cannot_be_written_inside_the_tree_it_backs_up(tree: Path) -> None:
    with pytest.raises(ArchiveError, match="inside the directory it backs up"):
        write_archive(tree, tree / "docs" / "self.tar.zst", {})
    assert not list(tree.rglob("*.tar.zst*"))


def test_failed_write_to_a_path_leaves_nothing(tmp_path: Path, tree: Path) -> None:
    def explode(progress: Progress) -> None:
        if progress.bytes_done:
            raise RuntimeError("disk full, say")

    dest = tmp_path / "out" / "backup.tar.zst"
    dest.parent.mkdir()
    with pytest.raises(RuntimeError):
        write_archive(tree, dest, {}, explode, progress_interval=0)
    assert list(dest.parent.iterdir()) == []


def test_progress_counts_files_and_bytes_and_notes_skips(tmp_path: Path, tree: Path) -> None:
    os.mkfifo(tree / "a-fifo")
    reports: list[Progress] = []
    info = write_archive(tree, io.BytesIO(), {}, reports.append, progress_interval=0)
    assert reports[-1].files_done == reports[-1].files_total == info.files
    assert reports[-1].bytes_done == reports[-1].bytes_total == info.bytes
    assert reports[-1].percent == 100
    assert reports[0].percent < 50
    percents = [r.percent for r in reports]
    assert percents == sorted(percents)
    assert all(r.phase == "backup" for r in reports)
    notes = [r.note for r in reports if r.note]
    assert notes == ["a-fifo: skipped a FIFO (only files, directories and links are backed up)"]
    assert info.notes == tuple(notes)


def test_restore_progress_has_both_phases(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, info = archive
    reports: list[Progress] = []
    restore_archive(opener(path), tmp_path / "r", reports.append, progress_interval=0)
    phases = [r.phase for r in reports]
    assert phases.index("restore") > phases.index("verify")
    assert set(phases) == {"verify", "restore"}
    last = reports[-1]
    assert (last.files_done, last.files_total, last.bytes_done) == (
        info.files,
        info.files,
        info.bytes,
    )
    _make_writable(tmp_path / "r")


def test_a_file_shrinking_during_backup_is_noted_and_still_consistent(tmp_path: Path) -> None:
    root = tmp_path / "live"
    root.mkdir()
    big = root / "growing.log"
    big.write_bytes(b"x" * (3 << 20))

    def truncate_midway(progress: Progress) -> None:
        if 0 < progress.bytes_done < (3 << 20) and big.stat().st_size:
            big.write_bytes(b"")

    buffer = io.BytesIO()
    info = write_archive(root, buffer, {}, truncate_midway, progress_interval=0)
    assert any("shrank" in note for note in info.notes)
    buffer.seek(0)
    assert verify_archive(buffer).bytes == 3 << 20


def test_progress_percent() -> None:
    assert Progress(0, 0, 0, 0).percent == 100
    assert Progress(0, 10, 0, 1000).percent == 0
    assert Progress(10, 10, 1000, 1000).percent == 100
    assert 0 < Progress(5, 10, 500, 1000).percent < 100


def test_directory_size_does_not_follow_links(tree: Path) -> None:
    expected = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    assert directory_size(tree) == expected


def test_links_that_escape_through_other_links_are_not_restored(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    os.symlink(".", root / "x")  # harmless on its own
    os.symlink("x/..", root / "y")  # looks contained, resolves to the parent of the tree
    os.symlink("../sub", root / "sub" / "ok")
    archive_path = tmp_path / "a.tar.zst"
    write_archive(root, archive_path, {})
    target = tmp_path / "out"
    info = restore_archive(opener(archive_path), target)
    assert os.readlink(target / "x") == "."
    assert os.readlink(target / "sub" / "ok") == "../sub"
    assert not os.path.lexists(target / "y")
    assert any(note.startswith("y: link") for note in info.notes)


# --------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9, -1])
@pytest.mark.parametrize("verify_first", [True, False])
def test_flipped_byte_is_refused_and_target_untouched(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo], where: float, verify_first: bool
) -> None:
    path, _ = archive
    data = bytearray(path.read_bytes())
    index = len(data) - 1 if where == -1 else int(len(data) * where)
    data[index] ^= 0x40
    path.write_bytes(bytes(data))
    target = tmp_path / "data"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    before = snapshot(target)
    with (
        pytest.raises(ArchiveError, match=r"corrupt|truncated|does not match"),
        open(path, "rb") as stream,
    ):
        verify_archive(stream)
    with pytest.raises(ArchiveError):
        restore_archive(opener(path), target, verify_first=verify_first)
    assert snapshot(target) == before
    assert siblings(target) == ["backup.tar.zst", "source"]


@pytest.mark.parametrize("keep", [0, 100, 0.5, -4, -1])
def test_truncated_archive_is_refused(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo], keep: float
) -> None:
    path, _ = archive
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data) if keep else 0
    path.write_bytes(data[:cut])
    with (
        pytest.raises(ArchiveError, match=r"truncated|empty") as caught,
        open(path, "rb") as stream,
    ):
        verify_archive(stream)
    assert "archive" in str(caught.value)


def test_data_after_the_archive_is_refused(archive: tuple[Path, ArchiveInfo]) -> None:
    path, _ = archive
    with open(path, "ab") as f:
        f.write(b"trailing garbage")
    with pytest.raises(ArchiveError, match="corrupt"), open(path, "rb") as stream:
        verify_archive(stream)


def test_unexpected_manifest_digest_is_refused(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, _ = archive
    target = tmp_path / "t"
    with pytest.raises(ArchiveError, match="not the backup that was recorded"):
        restore_archive(opener(path), target, expected_manifest_sha256="0" * 64)
    assert not target.exists()


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello, this is not zstd at all")
    with pytest.raises(ArchiveError, match="corrupt"), open(junk, "rb") as stream:
        verify_archive(stream)
    plain = zstandard.ZstdCompressor().compress(b"just text, no tar" * 100)
    with pytest.raises(ArchiveError, match=r"corrupt|truncated"):
        verify_archive(io.BytesIO(plain))


# --------------------------------------------------------------------------- hostile archives


def _info(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = MTIME
    return info


Member = tuple[tarfile.TarInfo, bytes]


def craft(members: list[Member], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A .tar.zst with a valid Homeport header member followed by ``members``."""
    header = json.dumps({"format": "homeport-backup", "version": 1, "metadata": {}}).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        tar.addfile(_info("homeport-backup.json", size=len(header)), io.BytesIO(header))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return zstandard.ZstdCompressor(write_checksum=True).compress(raw.getvalue())


def root() -> Member:
    return (_info("data", tarfile.DIRTYPE), b"")


def file(name: str, data: bytes = b"pwned\n") -> Member:
    return (_info(name, size=len(data)), data)


HOSTILE: dict[str, tuple[list[Member], str]] = {
    "dotdot-top": ([file("../../escaped")], "contains '..'"),
    "dotdot": ([root(), file("data/../../escaped")], "contains '..'"),
    "absolute": ([root(), file("/tmp/escaped-absolute")], "absolute path"),
    "outside-data": ([root(), file("elsewhere/x")], "outside data/"),
    "hard-link": (
        [root(), file("data/f"), (_info("data/h", tarfile.LNKTYPE, link="data/f"), b"")],
        "hard link",
    ),
    "char-device": ([root(), (_info("data/tty", tarfile.CHRTYPE), b"")], "character device"),
    "fifo": ([root(), (_info("data/pipe", tarfile.FIFOTYPE), b"")], "FIFO"),
    "duplicate": ([root(), file("data/f"), file("data/f", b"second")], "appears twice"),
    "out-of-order": ([root(), file("data/b"), file("data/a")], "out of order"),
    "file-through-symlink": (
        [root(), (_info("data/a", tarfile.SYMTYPE, link="{outside}"), b""), file("data/a/x")],
        "is not a directory in the archive",
    ),
    "file-through-dotdot-symlink": (
        [root(), (_info("data/up", tarfile.SYMTYPE, link="../.."), b""), file("data/up/x")],
        "is not a directory in the archive",
    ),
    "missing-parent": ([root(), file("data/nodir/x")], "is not a directory in the archive"),
    "global-pax": ([root(), (_info("data/g", tarfile.XGLTYPE, size=0), b"")], "global pax header"),
    "no-data-dir": ([file("data/x")], "does not start its data"),
    "no-manifest": ([root(), file("data/x")], "MANIFEST.json is missing"),
    "bad-manifest": (
        [root(), file("data/x"), file("MANIFEST.json", b'{"entries": []}')],
        "MANIFEST.json does not match",
    ),
    "after-manifest": (
        [root(), file("MANIFEST.json", b"{}"), file("data/late")],
        "does not match",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("verify_first", [True, False])
def test_hostile_archives_are_refused_and_write_nothing(
    tmp_path: Path, case: str, verify_first: bool
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    template, message = HOSTILE[case]
    members = [(copy.copy(info), data) for info, data in template]
    for info, _ in members:
        if info.issym():
            info.linkname = info.linkname.replace("{outside}", str(outside))
    path = tmp_path / "evil.tar.zst"
    path.write_bytes(craft(members))
    work = tmp_path / "work"
    work.mkdir()
    target = work / "data"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match=message), open(path, "rb") as stream:
        verify_archive(stream)
    with pytest.raises(ArchiveError, match=message):
        restore_archive(opener(path), target, verify_first=verify_first)
    after = snapshot(tmp_path)
    # A restore stages beside the target and removes the stage on failure: the
    # parent directory's mtime may move (a flake across a second boundary), nothing else.
    before["work"], after["work"] = before["work"][:2], after["work"][:2]
    assert after == before
    assert not Path("/tmp/escaped-absolute").exists()
    assert list(outside.iterdir()) == []


def test_gnu_long_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "gnu.tar.zst"
    path.write_bytes(craft([root(), file("data/" + "x" * 150)], fmt=tarfile.GNU_FORMAT))
    with pytest.raises(ArchiveError, match="no tar header"), open(path, "rb") as stream:
        verify_archive(stream)


def test_newer_format_is_refused() -> None:
    header = json.dumps({"format": "homeport-backup", "version": 99, "metadata": {}}).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_info("homeport-backup.json", size=len(header)), io.BytesIO(header))
    data = zstandard.ZstdCompressor().compress(raw.getvalue())
    with pytest.raises(ArchiveError, match="version 99 is not supported"):
        verify_archive(io.BytesIO(data))


# --------------------------------------------------------------------------- older formats

# Written by format 1 (SHA-256 of each file), before format 2 existed; the JSON beside
# it holds its manifest digest and each file's SHA-256 computed apart from the writer.
FORMAT_1 = Path(__file__).parent / "fixtures" / "backup-format-1.tar.zst"
FORMAT_1_FACTS = json.loads(FORMAT_1.with_suffix("").with_suffix(".json").read_text())


def test_a_format_1_backup_still_verifies_and_restores(tmp_path: Path) -> None:
    with open(FORMAT_1, "rb") as stream:
        checked = verify_archive(stream, expected_manifest_sha256=FORMAT_1_FACTS["manifest_sha256"])
    assert checked.format_version == 1 and checked.files == len(FORMAT_1_FACTS["files"])
    target = tmp_path / "data"
    info = restore_archive(
        opener(FORMAT_1), target, expected_manifest_sha256=FORMAT_1_FACTS["manifest_sha256"]
    )
    assert info.format_version == 1
    restored = {
        str(p.relative_to(target)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in target.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
    assert restored == FORMAT_1_FACTS["files"]
    assert os.readlink(target / "link") == FORMAT_1_FACTS["links"]["link"]
    assert stat.S_IMODE((target / "a.txt").stat().st_mode) == 0o640
    _make_writable(target)


def _relabelled(version: int) -> bytes:
    """The format-1 fixture with its header claiming ``version``, all else unchanged."""
    plain = zstandard.ZstdDecompressor().stream_reader(FORMAT_1.read_bytes()).read()
    raw = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(plain)) as old,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as new,
    ):
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isreg() else b""  # type: ignore[union-attr]
            if member.name == "homeport-backup.json":
                header = json.loads(data)
                header["version"] = version
                data = json.dumps(header).encode()
                member.size = len(data)
            new.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return zstandard.ZstdCompressor(write_checksum=True).compress(raw.getvalue())


def test_each_format_is_checked_with_its_own_file_digest(tmp_path: Path) -> None:
    # Relabelled as format 1 (a no-op) it verifies; claiming format 2, its SHA-256
    # entries cannot match the BLAKE3 manifest the reader expects, and it is refused.
    assert verify_archive(io.BytesIO(_relabelled(1))).format_version == 1
    with pytest.raises(ArchiveError, match=r"MANIFEST\.json does not match"):
        verify_archive(io.BytesIO(_relabelled(2)))
    for bad in (0, True, "2"):
        with pytest.raises(ArchiveError, match="is not supported"):
            verify_archive(io.BytesIO(_relabelled(bad)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- recovery


def _leftover(target: Path, kind: str, content: str) -> Path:
    path = target.parent / f"{target.name}.{kind}-{os.urandom(8).hex()}"
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "file.txt").write_text(content)
    (path / "sub").chmod(0o555)
    return path


def test_recover_removes_an_unfinished_restore(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    (target / "a.txt").write_text("old")
    _leftover(target, "restore", "partial")
    (tmp_path / "data.restore-notes").mkdir()  # not ours: the name does not match
    (tmp_path / "data.old-backup").mkdir()
    actions = recover_interrupted(target)
    assert len(actions) == 1 and "interrupted restore" in actions[0]
    assert (target / "a.txt").read_text() == "old"
    assert siblings(target) == ["data.old-backup", "data.restore-notes"]
    assert recover_interrupted(target) == []


def test_recover_puts_old_data_back_when_killed_between_renames(tmp_path: Path) -> None:
    target = tmp_path / "data"
    old = _leftover(target, "old", "old data")
    _leftover(target, "restore", "new data")
    actions = recover_interrupted(target)
    assert any("put the previous data back" in action for action in actions)
    assert (target / "sub" / "file.txt").read_text() == "old data"
    assert not old.exists()
    assert siblings(target) == []


def test_recover_removes_the_old_copy_after_a_finished_swap(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    (target / "new.txt").write_text("new")
    _leftover(target, "old", "old data")
    actions = recover_interrupted(target)
    assert any("finished restore" in action for action in actions)
    assert (target / "new.txt").read_text() == "new"
    assert siblings(target) == []


def test_restore_cleans_up_after_an_earlier_crash_first(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, _ = archive
    target = tmp_path / "data"
    target.mkdir()
    _leftover(target, "restore", "half-extracted")
    info = restore_archive(opener(path), target)
    assert any(note.startswith("before restoring: removed data.restore-") for note in info.notes)
    assert siblings(target) == ["backup.tar.zst", "source"]
    _make_writable(target)


def test_restore_refuses_a_target_that_is_a_link(
    tmp_path: Path, archive: tuple[Path, ArchiveInfo]
) -> None:
    path, _ = archive
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "data")
    with pytest.raises(ArchiveError, match="not a directory"):
        restore_archive(opener(path), tmp_path / "data")


# --------------------------------------------------------------------------- real crashes


CHILD_RESTORE = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from homeport.domain.backup_archive import restore_archive

    archive, target, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    announced = False

    def slow_down_for_test(progress):
        # Test-only slowdown: gives the parent time to kill us mid-extraction.
        global announced
        if mode == "slow" and progress.phase == "restore" and progress.files_done >= 3:
            if not announced:
                print("EXTRACTING", flush=True)
                announced = True
            time.sleep(0.05)

    if mode == "between-renames":
        real_rename = os.rename
        def rename_then_die(src, dst):
            real_rename(src, dst)
            if ".old-" in os.fspath(dst):
                os.kill(os.getpid(), signal.SIGKILL)
        os.rename = rename_then_die

    restore_archive(lambda: open(archive, "rb"), target, slow_down_for_test, progress_interval=0)
    print("FINISHED", flush=True)
    """
)


def _many_files_tree(root: Path) -> None:
    root.mkdir()
    for i in range(60):
        (root / f"f{i:03d}.txt").write_text(f"new content {i}\n" * 50)


def _old_target(target: Path) -> None:
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "old.txt").write_text("old data\n")
    (target / "old.bin").write_bytes(os.urandom(50_000))


@pytest.mark.slow
def test_restore_killed_mid_extraction_leaves_the_target_whole(tmp_path: Path) -> None:
    _many_files_tree(tmp_path / "src")
    archive_path = tmp_path / "a.tar.zst"
    write_archive(tmp_path / "src", archive_path, {})
    target = tmp_path / "env" / "data"
    _old_target(target)
    before = snapshot(target)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_RESTORE, str(archive_path), str(target), "slow"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "EXTRACTING"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert snapshot(target) == before
    leftovers = siblings(target)
    assert len(leftovers) == 1 and leftovers[0].startswith("data.restore-")
    assert (target.parent / leftovers[0] / "f000.txt").exists()  # it really was extracting
    actions = recover_interrupted(target)
    assert actions and "interrupted restore" in actions[0]
    assert snapshot(target) == before
    assert siblings(target) == []


@pytest.mark.slow
def test_restore_killed_between_the_renames_is_rolled_back(tmp_path: Path) -> None:
    _many_files_tree(tmp_path / "src")
    archive_path = tmp_path / "a.tar.zst"
    write_archive(tmp_path / "src", archive_path, {})
    target = tmp_path / "env" / "data"
    _old_target(target)
    before = snapshot(target)
    result = subprocess.run(
        [sys.executable, "-c", CHILD_RESTORE, str(archive_path), str(target), "between-renames"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert not target.exists()
    assert {name.split("-")[0] for name in siblings(target)} == {"data.old", "data.restore"}
    recover_interrupted(target)
    assert snapshot(target) == before
    assert siblings(target) == []


@pytest.mark.slow
def test_backup_killed_mid_write_leaves_no_archive(tmp_path: Path) -> None:
    _many_files_tree(tmp_path / "src")
    dest = tmp_path / "out" / "backup.tar.zst"
    dest.parent.mkdir()
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from homeport.domain.backup_archive import write_archive

        def slow_down_for_test(progress):
            if progress.files_done == 5:
                print("WRITING", flush=True)
            time.sleep(0.05)

        source, dest = Path(sys.argv[1]), Path(sys.argv[2])
        write_archive(source, dest, {}, slow_down_for_test, progress_interval=0)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "src"), str(dest)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "WRITING"
        time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert not dest.exists()
    leftovers = list(dest.parent.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".backup.tar.zst.tmp-")
