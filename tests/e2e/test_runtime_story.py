"""End to end: `git push` builds and deploys an app, sandboxed, served through the
router (a real `homeport serve`, real git, bubblewrap and nginx)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformshconfig
import pytest

from tests.e2e.server import ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

APPS = Path(__file__).resolve().parents[1] / "runtime" / "apps"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(tmp_path_factory.mktemp("runtime") / "data", router=True).start()
    try:
        yield Target(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def owner(target: Target) -> Person:
    return target.person("dev@example.com")


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def make_repo(path: Path, app: str) -> Path:
    """A working copy holding one of the test apps (the Python one with its vendored
    `platformshconfig`, which the sandboxed app cannot pip-install offline)."""
    shutil.copytree(APPS / app, path)
    if app == "python":
        vendor = path / "vendor" / "platformshconfig"
        shutil.copytree(Path(platformshconfig.__file__).parent, vendor)
        shutil.rmtree(vendor / "__pycache__", ignore_errors=True)
    assert git(path, "init", "-q", "-b", "main").returncode == 0
    assert git(path, "add", "-A").returncode == 0
    assert git(path, "commit", "-qm", "first").returncode == 0
    return path


def push(target: Target, who: Person, repo: Path, pid: str, *extra: str) -> str:
    url = f"http://t:{who.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    done = git(repo, "push", *extra, url, "HEAD:refs/heads/main")
    assert done.returncode == 0, done.stderr
    return done.stderr


def route_host(target: Target, who: Person, pid: str, env: str = "main") -> str:
    status, body = target.call("GET", f"/projects/{pid}/environments/{env}", who.token)
    assert status == 200, body
    return f"{body['machine_name']}-{pid}.localhost"


def fetch(target: Target, host: str, path: str = "/") -> tuple[int, str]:
    port = target.server.router_port
    assert port is not None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def in_app(target: Target, host: str, command: str) -> dict[str, Any]:
    """Run a shell command inside the running app's sandbox (the test app's /sh)."""
    from urllib.parse import quote

    status, body = fetch(target, host, "/sh?c=" + quote(command))
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def wait_serving(target: Target, host: str, expect: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            status, body = fetch(target, host)
            if status == 200 and expect in body:
                return body
            last = f"{status} {body[:200]}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(f"not serving {expect!r}: {last}\n{target.server.log()[-3000:]}")


@pytest.fixture(scope="module")
def python_app(
    target: Target, owner: Person, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    pid = target.project(owner, "Python app")
    repo = make_repo(tmp_path_factory.mktemp("py") / "app", "python")
    output = push(target, owner, repo, pid)
    return {"pid": pid, "repo": repo, "output": output, "host": route_host(target, owner, pid)}


def test_push_builds_and_serves_the_python_app(target: Target, python_app: dict[str, Any]) -> None:
    output = python_app["output"]
    assert "Building application 'app' (runtime type: python:3.11, tree: " in output
    assert "Executing build hook..." in output
    assert "build sees app app" in output
    assert "Environment routes" in output
    body = wait_serving(target, python_app["host"], "hello from app on main")
    assert body == "hello from app on main\n"


def test_the_app_sees_the_environment_contract(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    pid, host = python_app["pid"], python_app["host"]
    status, body = fetch(target, host, "/env")
    assert status == 200, body
    facts = json.loads(body)
    assert facts["is_valid_platform"] is True
    assert facts["in_runtime"] is True and facts["in_build"] is False
    assert facts["project"] == pid
    assert facts["branch"] == "main"
    assert facts["application_name"] == "app"
    assert facts["app_dir"] == "/app"
    assert len(facts["tree_id"]) == 40
    assert facts["environment"].startswith("main-")
    url = f"http://{host}:{target.server.router_port}/"
    assert url in facts["routes"]
    assert facts["routes"][url]["upstream"] == "app"
    env = facts["env"]
    assert env["HOME"] == "/app"
    assert env["PORT"].isdigit()
    assert env["GREETING"] == "hello"
    assert env["PLATFORM_ENVIRONMENT_TYPE"] == "production"
    assert len(env["PLATFORM_PROJECT_ENTROPY"]) == 56
    assert env["PLATFORMSH_CLI_API_URL"] == target.url
    assert facts["application"]["name"] == "app"
    # The API describes exactly what is served.
    status, current = target.call(
        "GET", f"/projects/{pid}/environments/main/deployments/current", owner.token
    )
    assert status == 200, current
    assert current["webapps"]["app"]["type"] == "python:3.11"
    assert current["webapps"]["app"]["tree_id"] == facts["tree_id"]
    assert list(current["routes"]) == list(facts["routes"])
    assert current["routes"][url]["upstream"] == "app:http"
    status, env_body = target.call("GET", f"/projects/{pid}/environments/main", owner.token)
    assert env_body["_links"]["public-url"]["href"] == url
    assert env_body["has_deployment"] is True


def test_the_sandbox_holds(target: Target, python_app: dict[str, Any]) -> None:
    host = python_app["host"]
    wrote = in_app(target, host, "touch /app/nope")
    assert wrote["code"] != 0 and "Read-only file system" in wrote["out"]
    mounted = in_app(target, host, "echo kept > /app/var/kept.txt && cat /app/var/kept.txt")
    assert mounted == {"code": 0, "out": "kept\n"}
    data_dir = target.server.data_dir
    for probe in (f"ls {data_dir}", f"cat {data_dir / 'homeport.db'}"):
        assert in_app(target, host, probe)["code"] != 0, probe
    processes = in_app(target, host, "ls /proc | grep -c '^[0-9]'")
    assert int(processes["out"]) < 10, processes
    assert in_app(target, host, "id -u")["out"].strip() != "0"
    built = in_app(target, host, "cat /app/built.txt")
    assert built["out"] == "built\n"
    # The worker is its own supervised process, sharing the app's mounts.
    deadline = time.monotonic() + 10
    while in_app(target, host, "cat /app/var/worker.txt")["out"] != "worker on main\n":
        assert time.monotonic() < deadline, "the worker never ran"
        time.sleep(0.2)


def test_an_unchanged_tree_reuses_the_build_and_hooks_ran(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid = python_app["repo"], python_app["pid"]
    assert git(repo, "commit", "-q", "--allow-empty", "-m", "redeploy").returncode == 0
    output = push(target, owner, repo, pid)
    assert "Reusing existing build for this tree ID" in output
    assert "Executing build hook..." not in output
    host = python_app["host"]
    wait_serving(target, host, "hello from app")
    deploys = in_app(target, host, "cat /app/var/deploys.txt")["out"]
    assert deploys.count("deployed at") == 2
    # The mount kept what the app wrote before this deploy.
    assert in_app(target, host, "cat /app/var/kept.txt")["out"] == "kept\n"


def test_a_failing_build_keeps_the_previous_deployment(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid, host = python_app["repo"], python_app["pid"], python_app["host"]
    config = repo / ".platform.app.yaml"
    original = config.read_text()
    config.write_text(original.replace("    set -e\n", "    set -e\n    false\n"))
    assert git(repo, "commit", "-qam", "broken build").returncode == 0
    output = push(target, owner, repo, pid)
    assert "Error building project" in output
    assert "Environment redeployment failed" in output
    status, body = fetch(target, host)
    assert status == 200 and body.startswith("hello from app")
    config.write_text(original)
    assert git(repo, "commit", "-qam", "fixed").returncode == 0
    push(target, owner, repo, pid)


def test_a_killed_app_is_restarted(target: Target, python_app: dict[str, Any]) -> None:
    host = python_app["host"]
    wait_serving(target, host, "hello from app")
    in_app(target, host, "(sleep 0.3; kill -9 $PPID) >/dev/null 2>&1 &")
    logs = target.server.data_dir / "runtime" / "logs" / python_app["pid"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = "".join(p.read_text() for p in logs.glob("*/app.log"))
        if "exited with status -9" in text or "exited with status 137" in text:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the supervisor did not see the app die")
    wait_serving(target, host, "hello from app", seconds=30)


def test_invalid_configuration_rejects_the_push(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid = python_app["repo"], python_app["pid"]
    config = repo / ".platform.app.yaml"
    original = config.read_text()
    config.write_text(original.replace("start: python3 server.py", "start: [1, 2]"))
    assert git(repo, "commit", "-qam", "bad config").returncode == 0
    url = f"http://t:{owner.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    done = git(repo, "push", url, "HEAD:refs/heads/main")
    assert done.returncode != 0
    assert "web.commands.start" in done.stderr and "remote rejected" in done.stderr
    assert git(repo, "reset", "-q", "--hard", "HEAD~1").returncode == 0
    wait_serving(target, python_app["host"], "hello from app")


def test_an_activated_branch_is_served_then_deactivation_stops_it(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid = python_app["repo"], python_app["pid"]
    url = f"http://t:{owner.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    done = git(repo, "push", "-o", "environment.status=active", url, "HEAD:refs/heads/feature")
    assert done.returncode == 0, done.stderr
    host = route_host(target, owner, pid, "feature")
    assert wait_serving(target, host, "hello from app on feature")
    # The feature app has a copy of main's data, and cannot reach main's own mount.
    assert in_app(target, host, "cat /app/var/kept.txt")["out"] == "kept\n"
    main_mounts = list(
        (target.server.data_dir / "environments" / pid).glob("main-*/data/mounts/app/var")
    )
    assert main_mounts and (main_mounts[0] / "kept.txt").exists()
    assert in_app(target, host, f"cat {main_mounts[0] / 'kept.txt'}")["code"] != 0
    # Same tree and build variables as main: the build is shared across branches.
    assert "Reusing existing build for this tree ID" in done.stderr
    status, _ = target.call("POST", f"/projects/{pid}/environments/feature/deactivate", owner.token)
    assert status == 200
    deadline = time.monotonic() + 30
    while fetch(target, host)[0] != 404:
        assert time.monotonic() < deadline, "still served after deactivation"
        time.sleep(0.2)
    # main is untouched.
    wait_serving(target, python_app["host"], "hello from app on main")


def test_the_app_comes_back_after_a_server_restart(
    target: Target, python_app: dict[str, Any]
) -> None:
    host = python_app["host"]
    wait_serving(target, host, "hello from app")
    assert target.server.stop() == 0
    target.server.start()
    wait_serving(target, host, "hello from app on main", seconds=60)


def test_a_nodejs_app(target: Target, owner: Person, tmp_path: Path) -> None:
    pid = target.project(owner, "Node app")
    repo = make_repo(tmp_path / "node", "nodejs")
    output = push(target, owner, repo, pid)
    assert "Building application 'web' (runtime type: nodejs:20, tree: " in output
    host = route_host(target, owner, pid)
    assert wait_serving(target, host, "node says hello") == "node says hello on main via port\n"
    # The same app on a unix socket ($SOCKET) when its configuration asks for one.
    config = repo / ".platform.app.yaml"
    config.write_text(
        config.read_text().replace("web:\n", "web:\n  upstream:\n    socket_family: unix\n")
    )
    assert git(repo, "commit", "-qam", "listen on a socket").returncode == 0
    push(target, owner, repo, pid)
    assert wait_serving(target, host, "via socket") == "node says hello on main via socket\n"


def test_unknown_hosts_get_404(target: Target) -> None:
    status, body = fetch(target, "nothing-here.localhost")
    assert status == 404 and "No route for this host" in body


def _wait_activity(target: Target, who: Person, pid: str, answer: Any) -> dict[str, Any]:
    activity = answer["_embedded"]["activities"][0]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, current = target.call(
            "GET", f"/projects/{pid}/activities/{activity['id']}", who.token
        )
        assert status == 200, current
        if current["state"] in ("complete", "cancelled"):
            result: dict[str, Any] = current
            return result
        time.sleep(0.2)
    raise AssertionError(f"activity {activity['id']} did not finish")


def test_a_restore_brings_back_the_code_and_the_mounts(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid, host = python_app["repo"], python_app["pid"], python_app["host"]
    wait_serving(target, host, "hello from app on main")
    in_app(target, host, "echo before > /app/var/state.txt")
    deployed = git(repo, "rev-parse", "HEAD").stdout.strip()
    status, answer = target.call(
        "POST", f"/projects/{pid}/environments/main/backup", owner.token, body={"safe": False}
    )
    assert status in (200, 201, 202), answer
    backup = _wait_activity(target, owner, pid, answer)
    assert backup["result"] == "success", backup
    backup_id = backup["payload"]["backup_name"]
    status, listed = target.call(
        "GET", f"/projects/{pid}/environments/main/backups/{backup_id}", owner.token
    )
    assert listed["commit_id"] == deployed
    # Newer code and newer data...
    (repo / "after-backup.txt").write_text("new\n")
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-qm", "after the backup").returncode == 0
    push(target, owner, repo, pid)
    wait_serving(target, host, "hello from app on main")
    assert in_app(target, host, "cat /app/after-backup.txt")["out"] == "new\n"
    in_app(target, host, "echo after > /app/var/state.txt")
    # ...and the restore puts both back, then deploys.
    status, answer = target.call(
        "POST",
        f"/projects/{pid}/environments/main/backups/{backup_id}/restore",
        owner.token,
        body={},
    )
    assert status in (200, 202), answer
    restored = _wait_activity(target, owner, pid, answer)
    assert restored["result"] == "success", restored
    status, env = target.call("GET", f"/projects/{pid}/environments/main", owner.token)
    assert env["head_commit"] == deployed
    wait_serving(target, host, "hello from app on main")
    assert in_app(target, host, "test -e /app/after-backup.txt")["code"] != 0
    assert in_app(target, host, "cat /app/var/state.txt")["out"] == "before\n"
    # The local clone follows the server again for later tests.
    assert git(repo, "reset", "-q", "--hard", deployed).returncode == 0


def test_the_seed_build_hook_puts_a_working_platform_in_the_app(
    target: Target, owner: Person, tmp_path: Path
) -> None:
    pid = target.project(owner, "Seed")
    repo = make_repo(tmp_path / "seed", "python")
    shutil.copy(APPS / "seed.platform.app.yaml", repo / ".platform.app.yaml")
    assert git(repo, "commit", "-qam", "the seed's build hook").returncode == 0
    output = push(target, owner, repo, pid)
    assert "Executing build hook..." in output
    host = route_host(target, owner, pid)
    wait_serving(target, host, "hello from app on main")
    # `.environment` (written by the installer at build) puts it on the PATH of the
    # app, of its deploy hook and of a shell inside it.
    assert "export PATH=" in in_app(target, host, "cat /app/.environment")["out"]
    assert in_app(target, host, "command -v platform")["out"].strip() == (
        "/app/.platformsh/bin/platform"
    )
    assert "Homeport CLI" in in_app(target, host, "cat /app/var/deploy-hook-cli.txt")["out"]
    # With the token as the sensitive `env:` variable, the CLI inside acts on the API.
    status, answer = target.call(
        "POST",
        f"/projects/{pid}/environments/main/variables",
        owner.token,
        body={
            "name": "env:PLATFORMSH_CLI_TOKEN",
            "value": owner.api_token,
            "is_sensitive": True,
            "is_inheritable": False,
        },
    )
    assert status == 201, answer
    redeploy = [a for a in answer["_embedded"]["activities"] if a["type"] == "environment.redeploy"]
    assert redeploy, answer
    assert (
        _wait_activity(target, owner, pid, {"_embedded": {"activities": redeploy}})["result"]
        == "success"
    )
    # The app has the token in its environment, and no process shows it in its command
    # line (which every local user can read).
    assert (
        in_app(target, host, 'test "$PLATFORMSH_CLI_TOKEN" = "' + owner.api_token + '"')["code"]
        == 0
    )
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            seen = cmdline.read_bytes()
        except OSError:
            continue
        assert owner.api_token.encode() not in seen, cmdline
    listed = in_app(target, host, "platform variable:list --format csv --columns name,level")
    assert listed["code"] == 0, listed
    assert "env:PLATFORMSH_CLI_TOKEN,environment" in listed["out"]


def test_services_are_refused_with_their_names(
    target: Target, owner: Person, tmp_path: Path
) -> None:
    pid = target.project(owner, "Services")
    repo = make_repo(tmp_path / "svc", "nodejs")
    (repo / ".platform").mkdir()
    (repo / ".platform" / "services.yaml").write_text("db:\n  type: postgresql:15\n  disk: 1024\n")
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-qm", "a database").returncode == 0
    output = push(target, owner, repo, pid)
    assert "services are not supported yet: db (postgresql:15)" in output
    assert "Environment redeployment failed" in output


def test_a_running_build_can_be_cancelled(
    target: Target, owner: Person, python_app: dict[str, Any]
) -> None:
    repo, pid, host = python_app["repo"], python_app["pid"], python_app["host"]
    config = repo / ".platform.app.yaml"
    original = config.read_text()
    config.write_text(original.replace("    set -e\n", "    set -e\n    sleep 60\n"))
    assert git(repo, "commit", "-qam", "a slow build").returncode == 0
    url = f"http://t:{owner.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    done = git(repo, "push", "-o", "no-wait", url, "HEAD:refs/heads/main")
    assert done.returncode == 0, done.stderr
    status, pushes = target.call(
        "GET", f"/projects/{pid}/activities?type=environment.push&count=1", owner.token
    )
    activity = pushes[0]
    deadline = time.monotonic() + 30
    while activity["state"] != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
        _, activity = target.call(
            "GET", f"/projects/{pid}/activities/{activity['id']}", owner.token
        )
    assert "#cancel" in activity["_links"]
    started = time.monotonic()
    status, _ = target.call(
        "POST", f"/projects/{pid}/activities/{activity['id']}/cancel", owner.token
    )
    assert status in (200, 202, 204)
    while activity["state"] != "cancelled":
        assert time.monotonic() - started < 20, activity
        time.sleep(0.2)
        _, activity = target.call(
            "GET", f"/projects/{pid}/activities/{activity['id']}", owner.token
        )
    wait_serving(target, host, "hello from app on main")
    config.write_text(original)
    assert git(repo, "commit", "-qam", "fast again").returncode == 0
    push(target, owner, repo, pid)


def test_the_cli_reads_the_deployment(
    target: Target, owner: Person, python_app: dict[str, Any], tmp_path: Path
) -> None:
    """`platform url`, `routes`, `apps`, `mounts` and `log` against the real server."""
    import sys

    pid, host = python_app["pid"], python_app["host"]
    wait_serving(target, host, "hello from app on main")

    def platform(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "PLATFORMSH_CLI_API_URL": target.url,
            "PLATFORMSH_CLI_TOKEN": owner.api_token,
        }
        return subprocess.run(
            [str(Path(sys.executable).parent / "platform"), *args, "-p", pid, "-e", "main"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    url = platform("url", "--pipe")
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip() == f"http://{host}:{target.server.router_port}/"
    routes = platform("routes", "--format", "csv")
    assert "https://{default}/,upstream,app:http" in routes.stdout, routes.stdout + routes.stderr
    apps = platform("apps", "--format", "csv")
    assert "app,python:3.11" in apps.stdout, apps.stderr
    mounts = platform("mounts", "--paths")
    assert mounts.stdout.strip() == "var", mounts.stderr
    log = platform("log", "app", "--lines", "50")
    assert log.returncode == 0, log.stderr
    assert "Started app" in log.stdout
