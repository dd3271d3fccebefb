"""Smart-HTTP request parsing: the repository below the mount, the service asked for,
and the token in the Authorization header."""

from __future__ import annotations

import base64

import pytest

from homeport.web.git_http import _credential, _relative, _service


@pytest.mark.parametrize("root", ["/git", ""])
def test_a_project_id_starting_with_git_is_not_cut(root: str) -> None:
    scope = {"path": "/git/gitabc123.git/info/refs", "root_path": root}
    assert _relative(scope) == "/gitabc123.git/info/refs"


def test_only_the_two_smart_services() -> None:
    get = {"method": "GET", "query_string": b"service=git-upload-pack"}
    assert _service(get, "info/refs") == "git-upload-pack"
    assert _service({"method": "GET", "query_string": b"service=git-shell"}, "info/refs") is None
    assert _service({"method": "GET", "query_string": b""}, "HEAD") is None  # no dumb HTTP
    assert _service({"method": "POST"}, "git-receive-pack") == "git-receive-pack"
    assert _service({"method": "POST"}, "objects/info/packs") is None


def test_credentials_from_basic_or_bearer() -> None:
    basic = base64.b64encode(b"anyone:hpt_secret").decode()
    assert _credential(f"Basic {basic}") == "hpt_secret"
    assert _credential("Bearer abc.def.ghi") == "abc.def.ghi"
    assert _credential("Basic !!!notbase64") is None
    assert _credential("Basic " + base64.b64encode(b"nopassword").decode()) is None
    assert _credential("Digest x") is None
