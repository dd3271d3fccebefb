"""The `platform` zipapp and the `/cli` routes that hand it out with its installer."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import homeport
import homeport.cli
from homeport.clidist.zipapp_build import build_cli_zipapp, cli_zipapp_bytes, etag_for
from homeport.web.cli_installer import make_router, render_installer

VERSION_LINE = f"Homeport CLI {homeport.__version__}\n"
PATH_LINE = 'export PATH="$HOME/.platformsh/bin:$PATH"'
MARKER = "HOMEPORT_INSTALLER_SH"
# The real interpreter behind the venv: it has no Homeport installed, so a zipapp that
# still imported something from outside itself would fail here.
BASE_PYTHON = os.path.realpath(sys.executable)


def client(base_url: str | None = None, root_path: str = "") -> TestClient:
    app = FastAPI()
    app.include_router(make_router(base_url))
    return TestClient(app, root_path=root_path)


def rendered(line: str) -> str:
    """What a terminal shows for `line`: a carriage return moves back to column 0."""
    cells: list[str] = []
    column = 0
    for char in line:
        if char == "\r":
            column = 0
            continue
        if column < len(cells):
            cells[column] = char
        else:
            cells.append(char)
        column += 1
    return "".join(cells).rstrip()


def sh_part(script: str) -> str:
    """The sh code of the installer: what php holds in its nowdoc."""
    return script.split(f"<<<'{MARKER}'\n", 1)[1].split(f"\n{MARKER};\n", 1)[0]


# The zipapp.


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cli_zipapp(tmp_path_factory.mktemp("pyz") / "platform.pyz")


def run_isolated(pyz: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH and nothing else from our environment; -I also drops the user site.
    return subprocess.run(
        [BASE_PYTHON, "-I", str(pyz), *args],
        cwd=cwd,
        env={"HOME": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zipapp_prints_version_under_isolated_python(pyz: Path, tmp_path: Path) -> None:
    result = run_isolated(pyz, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == VERSION_LINE


def test_zipapp_runs_a_lazily_imported_command(pyz: Path, tmp_path: Path) -> None:
    # `list` imports the command registry and the commands package, not just main.py.
    result = run_isolated(pyz, "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "project:list" in result.stdout


def test_zipapp_is_executable_with_an_env_shebang(pyz: Path) -> None:
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert pyz.stat().st_mode & 0o777 == 0o755


def test_zipapp_holds_the_client_and_nothing_of_the_server(pyz: Path) -> None:
    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
        init = archive.read("homeport/__init__.py").decode()
        main = archive.read("__main__.py").decode()
    assert names == sorted(names)
    extra = [n for n in names if not n.startswith("homeport/cli/")]
    assert extra == ["__main__.py", "homeport/__init__.py"]
    assert not [n for n in names if "__pycache__" in n or not n.endswith(".py")]
    source = Path(homeport.cli.__file__).parent
    expected = {
        "homeport/cli/" + p.relative_to(source).as_posix()
        for p in source.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert set(names) - {"__main__.py", "homeport/__init__.py"} == expected
    # The stand-in package module imports nothing and carries the version.
    tree = ast.parse(init)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert f"__version__ = {homeport.__version__!r}" in init
    assert "from homeport.cli.main import main" in main


def test_zipapp_bytes_are_deterministic(pyz: Path, tmp_path: Path) -> None:
    first = cli_zipapp_bytes()
    assert cli_zipapp_bytes() == first
    assert pyz.read_bytes() == first
    # Another process, time zone and umask: entry times and modes are fixed, not taken
    # from the files.
    code = (
        "import hashlib, os; os.umask(0o077);"
        "from homeport.clidist.zipapp_build import cli_zipapp_bytes;"
        "print(hashlib.sha256(cli_zipapp_bytes()).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": "Pacific/Kiritimati"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert other.stdout.strip() == hashlib.sha256(first).hexdigest()


def test_build_into_a_directory_names_the_file(tmp_path: Path) -> None:
    written = build_cli_zipapp(tmp_path)
    assert written == tmp_path / "platform.pyz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform.pyz"]


# The routes.


def test_pyz_route_serves_the_zipapp_with_an_etag() -> None:
    response = client().get("/cli/platform.pyz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.content == cli_zipapp_bytes()
    assert response.headers["etag"] == etag_for(response.content)
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "header",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
    ids=["exact", "weak", "list", "star"],
)
def test_pyz_route_answers_304_to_a_matching_etag(header: str) -> None:
    http = client()
    etag = http.get("/cli/platform.pyz").headers["etag"]
    response = http.get("/cli/platform.pyz", headers={"If-None-Match": header.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_pyz_route_sends_the_file_for_another_etag() -> None:
    response = client().get("/cli/platform.pyz", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.content == cli_zipapp_bytes()


def test_head_answers_without_authentication() -> None:
    http = client()
    assert http.head("/cli/platform.pyz").status_code == 200
    assert http.head("/cli/installer").status_code == 200


def test_installer_is_plain_text_naming_the_request_url() -> None:
    response = client().get("/cli/installer")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "pyz_url='http://testserver/cli/platform.pyz'\n" in response.text
    assert "api_url='http://testserver'\n" in response.text


def test_installer_follows_the_host_header_and_root_path() -> None:
    response = client(root_path="/homeport").get(
        "/cli/installer", headers={"Host": "hp.example.org:8443"}
    )
    assert "pyz_url='http://hp.example.org:8443/homeport/cli/platform.pyz'" in response.text
    assert "api_url='http://hp.example.org:8443/homeport'" in response.text


def test_installer_follows_the_forwarded_scheme_as_starlette_sees_it() -> None:
    # uvicorn applies X-Forwarded-Proto from trusted proxies; the route reads the result.
    app = FastAPI()
    app.include_router(make_router())
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    proxied = TestClient(app)
    response = proxied.get(
        "/cli/installer", headers={"Host": "hp.example.org", "X-Forwarded-Proto": "https"}
    )
    assert "pyz_url='https://hp.example.org/cli/platform.pyz'" in response.text


def test_configured_base_url_wins_over_the_request() -> None:
    response = client("https://homeport.example.com/").get(
        "/cli/installer", headers={"Host": "internal:8000"}
    )
    assert "pyz_url='https://homeport.example.com/cli/platform.pyz'\n" in response.text
    assert "api_url='https://homeport.example.com'\n" in response.text
    assert "internal" not in response.text


@pytest.mark.parametrize(
    "url", ["ftp://x.example", "https://x.example/?q=1", "https://x.example/a'b", "nohost"]
)
def test_unusable_configured_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        make_router(url)


def test_a_host_that_would_break_the_script_gets_400() -> None:
    response = client().get("/cli/installer", headers={"Host": "evil'$(id)"})
    assert response.status_code == 400
    assert "$(id)" not in response.text


# The script's shape (it runs for real in tests/e2e/test_cli_installer.py).


def test_php_prints_nothing_visible_before_its_code() -> None:
    script = render_installer("http://h.example", "http://h.example/cli/platform.pyz")
    first, second = script.split("\n")[:2]
    assert first == "#!/bin/sh"
    inline, php = second.split("<?php", 1)
    assert inline.startswith("#")  # a comment for sh
    assert rendered(inline) == ""
    assert php.startswith(f" $installer = <<<'{MARKER}'")
    # The marker opens and closes the nowdoc and appears nowhere else at a line start.
    assert len(re.findall(rf"^\s*{MARKER}\b", script, flags=re.MULTILINE)) == 1


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
def test_sh_part_parses_in_dash() -> None:
    script = render_installer("http://h.example", "http://h.example/cli/platform.pyz")
    result = subprocess.run(
        ["dash", "-n"], input=sh_part(script), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("php") is None, reason="needs php")
def test_whole_script_is_valid_php(tmp_path: Path) -> None:
    path = tmp_path / "installer"
    path.write_text(render_installer("http://h.example", "http://h.example/cli/platform.pyz"))
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# Failures: one line on stderr and a non-zero exit, nothing half-installed.


def tool_dir(tmp_path: Path, *, python: bool) -> Path:
    """A PATH directory with the tools the installer uses, with or without python3."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "mkdir", "chmod", "mv", "cat", "tail", "tr", "rm", "curl"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"needs {tool}")
        (bin_dir / tool).symlink_to(found)
    if python:
        (bin_dir / "python3").symlink_to(BASE_PYTHON)
    return bin_dir


def run_script(script: str, tmp_path: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir()
    return subprocess.run(
        [shutil.which("dash") or "dash"],
        input=script,
        env={"HOME": str(home), "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
def test_installer_fails_clearly_without_python3(tmp_path: Path) -> None:
    script = render_installer("http://h.example", "http://h.example/cli/platform.pyz")
    result = run_script(script, tmp_path, tool_dir(tmp_path, python=False))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("platform installer: python3 not found on PATH")
    assert not (tmp_path / "home" / ".platformsh").exists()


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
def test_installer_fails_clearly_when_the_download_fails(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # Bound but not listening: connections are refused at once.
        url = f"http://127.0.0.1:{port}"
        script = render_installer(url, url + "/cli/platform.pyz")
        result = run_script(script, tmp_path, tool_dir(tmp_path, python=True))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"platform installer: could not download {url}/cli/")
    bin_dir = tmp_path / "home" / ".platformsh" / "bin"
    assert list(bin_dir.iterdir()) == []
