"""The sandbox really isolates: read-only app, writable mounts only, private /tmp and
PID namespace, nothing of the host's private directories (real bubblewrap)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homeport.runtime.processes import run
from homeport.runtime.sandbox import SANDBOX_UID, Sandbox, chown_tree, prepare_writable

pytestmark = pytest.mark.slow


def _sh(sandbox: Sandbox, script: str, mode: str = "bwrap") -> tuple[int, str]:
    lines: list[str] = []
    outcome = run(sandbox, ["dash", "-c", script], mode, lambda _tag, text: lines.append(text))
    return outcome.returncode, "\n".join(lines)


def _app(tmp_path: Path) -> tuple[Path, Path]:
    app = tmp_path / "build" / "app"
    (app / "uploads").mkdir(parents=True)
    (app / "index.txt").write_text("hello\n")
    mount = tmp_path / "data" / "uploads"
    prepare_writable(mount)
    return app, mount


def test_app_is_read_only_and_mounts_are_writable(tmp_path: Path) -> None:
    app, mount = _app(tmp_path)
    box = Sandbox(app, False, mounts={"uploads": mount}, env={"PATH": "/usr/bin:/bin"})
    code, out = _sh(box, "cat /app/index.txt; touch /app/new")
    assert code != 0 and "hello" in out and "Read-only file system" in out
    code, out = _sh(box, "echo kept > /app/uploads/f && cat /app/uploads/f")
    assert (code, out) == (0, "kept")
    assert (mount / "f").read_text() == "kept\n"


def test_the_host_private_dirs_and_processes_are_invisible(tmp_path: Path) -> None:
    app, _mount = _app(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    box = Sandbox(app, False, env={"PATH": "/usr/bin:/bin"})
    code, _ = _sh(box, f"cat {secret}")
    assert code != 0
    code, out = _sh(box, "ls /proc | grep -c '^[0-9]'")
    assert code == 0 and int(out) < 5
    code, out = _sh(box, "ls /")
    assert "work" not in out.split() and "root" not in out.split()
    code, out = _sh(box, "echo x > /tmp/t && cat /tmp/t && id -u")
    assert code == 0 and out.splitlines()[0] == "x"
    # Never root inside: as root, Homeport hands app processes to the sandbox user.
    expected_uid = SANDBOX_UID if os.geteuid() == 0 else os.geteuid()
    assert out.splitlines()[1] == str(expected_uid)


def test_the_environment_is_only_what_was_given(tmp_path: Path) -> None:
    app, _mount = _app(tmp_path)
    os.environ["HOMEPORT_TEST_LEAK"] = "leak"
    try:
        box = Sandbox(app, False, env={"PATH": "/usr/bin:/bin", "GIVEN": "yes"})
        code, out = _sh(box, 'echo "$GIVEN/${HOMEPORT_TEST_LEAK:-none}"')
    finally:
        del os.environ["HOMEPORT_TEST_LEAK"]
    assert (code, out) == (0, "yes/none")


def test_a_build_may_write_its_tree(tmp_path: Path) -> None:
    app, _mount = _app(tmp_path)
    chown_tree(app)
    box = Sandbox(app, True, env={"PATH": "/usr/bin:/bin"})
    code, _ = _sh(box, "echo built > /app/built.txt")
    assert code == 0 and (app / "built.txt").read_text() == "built\n"


def test_without_bubblewrap_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from homeport.runtime import sandbox as sb

    monkeypatch.setattr(sb, "find_bwrap", lambda: None)
    app, _mount = _app(tmp_path)
    with pytest.raises(sb.SandboxUnavailable, match="apt-get install bubblewrap"):
        _sh(Sandbox(app, False), "true")


def test_no_sandbox_on_purpose_runs_in_the_app_directory(tmp_path: Path) -> None:
    app, _mount = _app(tmp_path)
    code, out = _sh(
        Sandbox(app, False, env={"PATH": "/usr/bin:/bin"}), "pwd; cat index.txt", "none"
    )
    assert code == 0 and out.splitlines() == [str(app), "hello"]
