"""Benchmark: Homeport backup and restore against ``tar | zstd -1 -T0`` on the same tree.

Generates a tree (default 1 GiB: half random bytes in larger files, half text in many
small files, plus empty directories and links), then, for each repetition, times:

* Homeport backup, as the worker makes one: ``write_archive`` to a spool file (fsync'd,
  hashed as written), then ``LocalBlobStore.put`` with ``move=True`` (a rename: the spool
  is on the store's filesystem) and the archive's SHA-256, which is the store's check
  that makes a backup restorable (no read-back);
* ``tar -c | zstd -1 -T0`` into a file (the aim's baseline), and for reference the same
  plus an fsync of its file, since Homeport's archive is durable before it is recorded;
* Homeport restore: ``restore_archive`` from the blob store into a fresh target
  (verification pass, checked extraction, syncfs, swap), and the same with
  ``verify_first=False`` for comparison;
* ``zstd -d | tar -x`` into a fresh directory.

Homeport's side runs in a child process, timed inside the child (interpreter start-up
excluded), which reports its own peak RSS. Everything runs on a warm page cache. Prints
MB/s (10^6 bytes of file data per second), medians over ``--repeat`` runs, and the ratios
Homeport / tar+zstd, and the CPU seconds each side spent on a backup. Figures only:
it never fails a build.

    .venv/bin/python bench/backup.py [--size-mb 1024] [--repeat 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_WORDS = [
    "backup",
    "restore",
    "archive",
    "manifest",
    "digest",
    "environment",
    "project",
    "commit",
    "variable",
    "deploy",
    "route",
    "service",
    "worker",
    "activity",
    "token",
    "policy",
    "branch",
    "merge",
    "build",
    "data",
    "mount",
    "cron",
    "hook",
    "region",
    "snapshot",
    "stream",
    "block",
    "frame",
    "verify",
    "extract",
    "target",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
]


def _text_corpus(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(4, 16)))
        line = f"{rng.randint(0, 99999):05d} {line}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def generate_tree(root: Path, size: int, seed: int = 7) -> tuple[int, int]:
    """Fill ``root`` with about ``size`` bytes; returns (files, bytes)."""
    rng = random.Random(seed)
    files = nbytes = 0
    random_budget = size // 2
    binary = root / "media"
    binary.mkdir(parents=True)
    index = 0
    while nbytes < random_budget:
        n = min(rng.randint(256 << 10, 16 << 20), random_budget - nbytes)
        sub = binary / f"set{index % 8}"
        sub.mkdir(exist_ok=True)
        with open(sub / f"blob{index:05d}.bin", "wb") as f:
            remaining = n
            while remaining:
                chunk = os.urandom(min(remaining, 4 << 20))
                f.write(chunk)
                remaining -= len(chunk)
        files += 1
        nbytes += n
        index += 1
    # Small text files sliced from a corpus larger than zstd's level-1 window, so the
    # compressor sees text-like redundancy but not the same few kilobytes over and over.
    corpus = _text_corpus(rng, 16 << 20)
    text = root / "docs"
    index = 0
    while nbytes < size:
        n = min(rng.randint(1 << 10, 32 << 10), size - nbytes)
        start = rng.randrange(0, len(corpus) - n)
        directory = text / f"d{index // 4000:02d}" / f"s{(index // 200) % 20:02d}"
        if index % 200 == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"page{index:06d}.txt").write_bytes(corpus[start : start + n])
        files += 1
        nbytes += n
        index += 1
    for i in range(20):
        (root / "empty" / f"e{i:02d}").mkdir(parents=True)
    (root / "latest").symlink_to("docs/d00")
    (root / "outside").symlink_to("/etc/hostname")
    return files, nbytes


# --------------------------------------------------------------------------- child side


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from homeport.domain.backup_archive import restore_archive, write_archive
    from homeport.store.blobstore import LocalBlobStore

    work = Path(args.work)
    store = LocalBlobStore(work / "store")
    key = "bench/backup.tar.zst"
    out: dict[str, Any] = {}
    if args.child == "backup":
        spool = work / "spool"
        spool.mkdir(exist_ok=True)
        c0, t0 = _cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
        info = write_archive(Path(args.src), spool / "backup.tar.zst", {"bench": True})
        t1 = time.perf_counter()
        store.put(key, spool / "backup.tar.zst", move=True, sha256=info.archive_sha256)
        t2 = time.perf_counter()
        out = {
            "write": t1 - t0,
            "put": t2 - t1,
            "total": t2 - t0,
            "cpu": _cpu_seconds(resource.RUSAGE_SELF) - c0,
            "archive_bytes": info.archive_bytes,
            "manifest_sha256": info.manifest_sha256,
        }
    elif args.child == "restore":
        target = Path(args.target)
        t0 = time.perf_counter()
        restore_archive(
            lambda: store.open(key),
            target,
            verify_first=not args.single_pass,
        )
        out = {"total": time.perf_counter() - t0}
    elif args.child == "idle":
        out = {"total": 0.0}
    out["maxrss_kib"] = _peak_rss_kib()
    print(json.dumps(out))


def _peak_rss_kib() -> int:
    # Linux carries ru_maxrss across execve, so a child started from a big parent would
    # report the parent's peak; VmHWM belongs to this process's own address space.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _settle() -> None:
    # Start every timed step with no dirty pages left by the previous one, so neither
    # side pays for the other's write-back.
    os.sync()
    time.sleep(0.5)


def _run_child(*argv: str) -> dict[str, Any]:
    _settle()
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"child {argv[:2]} failed: {result.stderr.strip()[-2000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# --------------------------------------------------------------------------- parent side


def _pipeline(first: list[str], second: list[str]) -> float:
    _settle()
    start = time.perf_counter()
    producer = subprocess.Popen(first, stdout=subprocess.PIPE)
    assert producer.stdout is not None
    consumer = subprocess.Popen(second, stdin=producer.stdout)
    producer.stdout.close()
    rc2 = consumer.wait()
    rc1 = producer.wait()
    elapsed = time.perf_counter() - start
    if rc1 or rc2:
        raise RuntimeError(f"{first[0]} | {second[0]} failed ({rc1}, {rc2})")
    return elapsed


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1e6 / seconds if seconds > 0 else float("inf")


def _run(args: argparse.Namespace) -> None:
    missing = [tool for tool in ("tar", "zstd") if shutil.which(tool) is None]
    if missing:
        print(f"bench/backup.py: skipped, missing commands: {', '.join(missing)}")
        return
    base = Path(args.dir) if args.dir else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="homeport-bench-backup-", dir=base))
    try:
        src = work / "tree"
        started = time.perf_counter()
        files, nbytes = generate_tree(src, args.size_mb << 20)
        print(
            f"tree: {files} files, {nbytes / 1e6:.0f} MB in {work} "
            f"(generated in {time.perf_counter() - started:.1f} s); {os.cpu_count()} CPUs"
        )
        idle = _run_child("--child", "idle", "--work", str(work))
        rows: dict[str, list[float]] = {}
        rss: dict[str, int] = {}
        sizes: dict[str, int] = {}

        def add(name: str, seconds: float) -> None:
            rows.setdefault(name, []).append(seconds)

        for _ in range(args.repeat):
            backup = _run_child("--child", "backup", "--work", str(work), "--src", str(src))
            for stage in ("write", "put", "total", "cpu"):
                add(f"hp_backup_{stage}", backup[stage])
            rss["backup"] = max(rss.get("backup", 0), backup["maxrss_kib"])
            sizes["homeport"] = backup["archive_bytes"]

            tar_out = work / "pipeline.tar.zst"
            cpu_before = _cpu_seconds(resource.RUSAGE_CHILDREN)
            piped = _pipeline(
                ["tar", "-C", str(src), "-cf", "-", "."],
                ["zstd", "-1", "-T0", "-q", "-f", "-o", str(tar_out)],
            )
            add("tar_backup", piped)
            add("tar_backup_cpu", _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before)
            # For reference, what the pipeline's file costs once durable, as Homeport's
            # archive is before it is recorded (timed straight after, before _settle).
            started_sync = time.perf_counter()
            fd = os.open(tar_out, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            add("tar_backup_synced", piped + time.perf_counter() - started_sync)
            sizes["tar+zstd"] = tar_out.stat().st_size

            for mode, flag in (("hp_restore", []), ("hp_restore_single", ["--single-pass"])):
                target = work / "restored" / "data"
                target.parent.mkdir(exist_ok=True)
                result = _run_child(
                    "--child", "restore", "--work", str(work), "--target", str(target), *flag
                )
                add(mode, result["total"])
                rss[mode] = max(rss.get(mode, 0), result["maxrss_kib"])
                shutil.rmtree(work / "restored")

            dest = work / "untarred"
            dest.mkdir()
            add(
                "tar_restore",
                _pipeline(
                    ["zstd", "-d", "-c", "-q", str(tar_out)], ["tar", "-xf", "-", "-C", str(dest)]
                ),
            )
            shutil.rmtree(dest)

        med = {name: statistics.median(values) for name, values in rows.items()}
        print(f"runs: {args.repeat} (medians)")
        print(f"{'operation':44} {'seconds':>8} {'MB/s':>8}")
        lines = [
            ("Homeport backup: write archive (fsync'd)", "hp_backup_write"),
            ("Homeport backup: put into blob store, checked", "hp_backup_put"),
            ("Homeport backup, both (what the worker does)", "hp_backup_total"),
            ("tar -c | zstd -1 -T0", "tar_backup"),
            ("tar -c | zstd -1 -T0, then fsync (reference)", "tar_backup_synced"),
            ("Homeport restore (verify, then extract)", "hp_restore"),
            ("Homeport restore, verify_first=False", "hp_restore_single"),
            ("zstd -d | tar -x", "tar_restore"),
        ]
        for label, name in lines:
            # A put with move=True is a rename: a rate would mean nothing.
            rate = "-" if name == "hp_backup_put" else f"{_mbps(nbytes, med[name]):.0f}"
            print(f"{label:44} {med[name]:8.2f} {rate:>8}")
        print(
            f"archive size: Homeport {sizes['homeport'] / 1e6:.0f} MB, "
            f"tar+zstd {sizes['tar+zstd'] / 1e6:.0f} MB"
        )
        print(
            f"CPU seconds of a backup: Homeport {med['hp_backup_cpu']:.2f}, "
            f"tar+zstd {med['tar_backup_cpu']:.2f}"
        )
        print("ratios (Homeport MB/s / tar+zstd MB/s; aim >= 0.80):")
        print(f"  backup, archive write only     {med['tar_backup'] / med['hp_backup_write']:.2f}")
        print(f"  backup, write + checked put    {med['tar_backup'] / med['hp_backup_total']:.2f}")
        print(
            "  write + checked put, against the fsync'd pipeline (reference, both durable) "
            f"{med['tar_backup_synced'] / med['hp_backup_total']:.2f}"
        )
        print(f"  restore (verify first)         {med['tar_restore'] / med['hp_restore']:.2f}")
        print(
            f"  restore, verify_first=False    {med['tar_restore'] / med['hp_restore_single']:.2f}"
        )
        print(
            "peak RSS (child): "
            f"backup {rss['backup'] / 1024:.0f} MiB, restore {rss['hp_restore'] / 1024:.0f} MiB, "
            f"single-pass restore {rss['hp_restore_single'] / 1024:.0f} MiB "
            f"(an idle child with the same imports: {idle['maxrss_kib'] / 1024:.0f} MiB)"
        )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Parse arguments and run the benchmark (or one child step)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="tree size in MiB")
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are printed")
    parser.add_argument("--dir", default="", help="where to create the work directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    parser.add_argument("--src", default="", help=argparse.SUPPRESS)
    parser.add_argument("--target", default="", help=argparse.SUPPRESS)
    parser.add_argument("--single-pass", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    try:
        _run(args)
    except Exception as exc:  # figures only: report and never fail the build
        print(f"bench/backup.py: could not finish: {exc}")


if __name__ == "__main__":
    main()
