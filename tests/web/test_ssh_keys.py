"""/ssh_keys: parsing, fingerprints, uniqueness, ownership."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.helpers import Api, assert_error


def openssh(key: object) -> str:
    """The OpenSSH public line of a freshly generated private key."""
    public = key.public_key()  # type: ignore[attr-defined]
    return str(
        public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
    )


def test_add_list_delete_and_me(api: Api) -> None:
    token = api.login_new("ada@example.com")
    line = openssh(ed25519.Ed25519PrivateKey.generate()) + " ada@laptop"
    r = api.post("/ssh_keys", token, json={"value": line})
    assert r.status_code == 201
    key = r.json()
    blob = base64.b64decode(line.split()[1])
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert key["fingerprint"] == expected
    assert key["title"] == "ada@laptop"
    assert [k["key_id"] for k in api.get("/ssh_keys", token).json()] == [key["key_id"]]
    me = api.get("/me", token).json()
    assert me["has_key"] is True and me["ssh_keys"][0]["fingerprint"] == expected
    assert api.delete(f"/ssh_keys/{key['key_id']}", token).status_code == 204
    assert api.get("/ssh_keys", token).json() == []


def test_accepted_key_types(api: Api) -> None:
    token = api.login_new("ada@example.com")
    for key in (
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ):
        assert api.post("/ssh_keys", token, json={"value": openssh(key)}).status_code == 201


def test_weak_or_broken_keys_are_refused(api: Api) -> None:
    token = api.login_new("ada@example.com")
    weak = openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 (refused on purpose)
    for value in (weak, "", "ssh-ed25519", "ssh-ed25519 AAAA!!!", "hello world", "a\nb"):
        body = assert_error(api.post("/ssh_keys", token, json={"value": value}), 400)
        assert "value" in body["detail"]
    assert api.get("/ssh_keys", token).json() == []


def test_one_key_belongs_to_one_account(api: Api) -> None:
    line = openssh(ed25519.Ed25519PrivateKey.generate())
    ada = api.login_new("ada@example.com")
    bob = api.login_new("bob@example.com")
    assert api.post("/ssh_keys", ada, json={"value": line}).status_code == 201
    assert_error(api.post("/ssh_keys", bob, json={"value": line}), 409)
    assert_error(api.post("/ssh_keys", ada, json={"value": line + " other"}), 409)


def test_others_cannot_see_or_delete_my_key(api: Api, admin: str) -> None:
    ada = api.login_new("ada@example.com")
    eve = api.login_new("eve@example.com")
    key_id = api.post(
        "/ssh_keys", ada, json={"value": openssh(ed25519.Ed25519PrivateKey.generate())}
    ).json()["key_id"]
    assert_error(api.get(f"/ssh_keys/{key_id}", eve), 404)
    assert_error(api.delete(f"/ssh_keys/{key_id}", eve), 404)
    assert_error(api.delete(f"/ssh_keys/{key_id}"), 401)
    assert api.get(f"/ssh_keys/{key_id}", admin).status_code == 200
    assert api.get(f"/ssh_keys/{key_id}", ada).status_code == 200
    assert_error(api.get("/ssh_keys/999999", ada), 404)
    assert_error(api.get("/ssh_keys/not-a-number", ada), 400)


def test_ids_beyond_any_integer_are_404_not_500(api: Api) -> None:
    token = api.login_new("ada@example.com")
    huge = 2**80
    assert_error(api.get(f"/ssh_keys/{huge}", token), 404)
    assert_error(api.delete(f"/ssh_keys/{huge}", token), 404)
    assert_error(api.delete("/ssh_keys/-1", token), 404)
