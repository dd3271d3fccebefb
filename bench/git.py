"""Benchmark: cloning from Homeport over HTTPS and SSH against `git clone --no-local`.

Builds a repository (default 100 MB of incompressible blobs over 5,000 commits) with
`git fast-import`, pushes it to a real `homeport serve`, then times, alternating:

* `git clone --no-local` of the same bare repository on disk (the limit: git's own
  pack transfer with no network or server in between);
* `git clone` over HTTPS (`git http-backend` behind Homeport, API token as password);
* `git clone` over SSH (Homeport's asyncssh listener, the account's key);

and a no-op push round trip over HTTPS ("Everything up-to-date"). While each clone runs
the server's resident memory is sampled every 20 ms. Prints medians, MB/s and the
ratio of each transport to the limit, and whether each aim of issue 11 is met. Figures
only: it never fails on a timing.

    .venv/bin/python bench/git.py [--size-mb 100] [--commits 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server import ServerProcess


def build_repo(path: Path, size_mb: int, commits: int) -> int:
    """A bare repo with ``commits`` commits carrying ``size_mb`` MB of random blobs."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    blob_count = max(1, min(commits, size_mb * 4))  # ~256 KB blobs
    blob_size = size_mb * 1024 * 1024 // blob_count
    every = max(1, commits // blob_count)
    proc = subprocess.Popen(
        ["git", "--git-dir", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    out = proc.stdin
    when = 1_700_000_000
    blobs = 0
    for i in range(commits):
        message = f"commit {i}\n".encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"committer Bench <bench@example.com> {when + i} +0000\n".encode())
        out.write(b"data %d\n%s" % (len(message), message))
        if i == 0:
            out.write(b"")
        text = f"line {i}\n".encode()
        out.write(b"M 644 inline notes.txt\ndata %d\n%s\n" % (len(text), text))
        if i % every == 0 and blobs < blob_count:
            data = os.urandom(blob_size)
            out.write(b"M 644 inline blobs/%06d.bin\ndata %d\n" % (blobs, len(data)))
            out.write(data + b"\n")
            blobs += 1
        out.write(b"\n")
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class Peak:
    """The server's peak resident size while a block runs (kB over the size before)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.before = pid, 0, 0
        self._stop = threading.Event()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def __enter__(self) -> Peak:
        self.before = self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return max(0, self.peak - self.before) / 1024


def timed(args: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    begun = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed: {done.stderr.strip()}")
    return time.perf_counter() - begun


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mb", type=int, default=int(os.environ.get("BENCH_GIT_SIZE_MB", 100))
    )
    parser.add_argument(
        "--commits", type=int, default=int(os.environ.get("BENCH_GIT_COMMITS", 5000))
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pushes", type=int, default=20)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-git-"))
    server = ServerProcess(work / "data").start()
    try:
        return run(server, work, opts)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(server: ServerProcess, work: Path, opts: argparse.Namespace) -> int:
    started = time.perf_counter()
    source = work / "source.git"
    size = build_repo(source, opts.size_mb, opts.commits)
    print(
        f"repository: {opts.commits} commits, {size / 1e6:.0f} MB on disk "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )

    created = server.homeport("user:create", "bench@example.com")
    token = server.homeport("api-token:create", "bench@example.com", "--name", "bench")
    assert created.returncode == 0 and token.returncode == 0, created.stderr + token.stderr
    api_token = token.stdout.strip()
    access = server.exchange(api_token)
    password = (server.data_dir / "initial-admin-password").read_text().strip()
    _, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    admin = body["access_token"]
    _, body = server.call("POST", "/projects", admin, body={"title": "Bench"})
    pid = body["_embedded"]["entity"]["id"]
    server.call(
        "POST",
        f"/projects/{pid}/user-access",
        admin,
        body=[{"user_id": created.stdout.strip(), "permissions": ["admin"]}],
    )
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    server.call("POST", "/ssh_keys", access, body={"value": key.with_suffix(".pub").read_text()})

    host = server.url.removeprefix("http://")
    https = f"http://bench:{api_token}@{host}/git/{pid}.git"
    ssh = f"ssh://{pid}@127.0.0.1:{server.ssh_port}/{pid}.git"
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
        "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
    }
    subprocess.run(
        ["git", "--git-dir", str(source), "push", "-q", https, "main:main"],
        env=env,
        check=True,
        capture_output=True,
    )
    assert server.proc is not None
    cases = {
        "limit: git clone --no-local": ["git", "clone", "-q", "--bare", "--no-local", str(source)],
        "HTTPS (git http-backend)": ["git", "clone", "-q", "--bare", https],
        "SSH (asyncssh)": ["git", "clone", "-q", "--bare", ssh],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    growth: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(opts.repeat):
        for name, args in cases.items():
            target = work / f"clone-{i}-{len(times[name])}-{abs(hash(name))}.git"
            with Peak(server.proc.pid) as peak:
                times[name].append(timed([*args, str(target)], env))
            growth[name].append(peak.growth_mb)
            shutil.rmtree(target, ignore_errors=True)

    checkout = work / "checkout"
    subprocess.run(["git", "clone", "-q", https, str(checkout)], env=env, check=True)
    pushes = [
        timed(["git", "push", "-q", "origin", "HEAD:main"], env, cwd=checkout)
        for _ in range(opts.pushes)
    ]

    limit = statistics.median(times["limit: git clone --no-local"])
    mb = size / 1e6
    print(f"\nmedians of {opts.repeat} clones each (alternating), {mb:.0f} MB:\n")
    print("| case | median s | MB/s | x limit | server memory growth (max) |")
    print("|---|---|---|---|---|")
    for name in cases:
        median = statistics.median(times[name])
        grown = f"{max(growth[name]):.1f} MB" if "limit" not in name else "-"
        print(f"| {name} | {median:.2f} | {mb / median:.0f} | {limit / median:.2f} | {grown} |")
    noop = statistics.median(pushes) * 1000
    print(f"\nno-op push over HTTPS: median {noop:.0f} ms over {opts.pushes} runs")
    print("\naims (figures, not a verdict):")
    for name in ("HTTPS (git http-backend)", "SSH (asyncssh)"):
        ratio = limit / statistics.median(times[name])
        print(
            f"  {name}: {ratio:.2f} x the limit's rate (aim >= 0.5): "
            f"{'met' if ratio >= 0.5 else 'not met'}"
        )
        print(
            f"  {name}: memory growth {max(growth[name]):.1f} MB (aim < 50 MB): "
            f"{'met' if max(growth[name]) < 50 else 'not met'}"
        )
    print(f"  no-op push {noop:.0f} ms (aim <= 150 ms): {'met' if noop <= 150 else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
