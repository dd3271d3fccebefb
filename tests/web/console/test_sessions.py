"""The signed session cookie: round trip, forgery, tampering, expiry."""

from __future__ import annotations

from homeport.web.console.sessions import LIFETIME_SECONDS, SessionCodec


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_keeps_every_field() -> None:
    codec = SessionCodec(b"k" * 32)
    session = codec.sign_in("account-1", "$argon2id$hash").with_used_nonce("n1")
    loaded = codec.loads(codec.dumps(session))
    assert loaded == session
    assert loaded is not None and loaded.signed_in


def test_anonymous_sessions_carry_only_a_csrf_secret() -> None:
    codec = SessionCodec(b"k" * 32)
    visitor = codec.loads(codec.dumps(codec.anonymous()))
    assert visitor is not None and not visitor.signed_in and visitor.csrf


def test_sign_in_rotates_session_id_and_csrf_secret() -> None:
    codec = SessionCodec(b"k" * 32)
    one, two = codec.sign_in("a", "h"), codec.sign_in("a", "h")
    assert one.sid != two.sid and one.csrf != two.csrf


def test_another_key_or_a_changed_byte_is_refused() -> None:
    codec = SessionCodec(b"k" * 32)
    cookie = codec.dumps(codec.sign_in("account-1", "h"))
    assert SessionCodec(b"x" * 32).loads(cookie) is None
    version, payload, signature = cookie.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    assert codec.loads(f"{version}.{flipped}.{signature}") is None
    assert codec.loads(f"{version}.{payload}.") is None
    assert codec.loads("v2." + cookie[3:]) is None
    for junk in ("", "garbage", "v1..", "a" * 5000):
        assert codec.loads(junk) is None


def test_sessions_expire_after_their_lifetime() -> None:
    clock = Clock()
    codec = SessionCodec(b"k" * 32, clock=clock)
    cookie = codec.dumps(codec.sign_in("account-1", "h"))
    clock.now += LIFETIME_SECONDS - 1
    assert codec.loads(cookie) is not None
    clock.now += 2
    assert codec.loads(cookie) is None


def test_password_mark_changes_with_the_password_hash() -> None:
    codec = SessionCodec(b"k" * 32)
    assert codec.password_mark("one") != codec.password_mark("two")
    assert codec.password_mark("one") == codec.password_mark("one")


def test_used_nonces_are_bounded() -> None:
    codec = SessionCodec(b"k" * 32)
    session = codec.sign_in("a", "h")
    for n in range(20):
        session = session.with_used_nonce(f"n{n}")
    assert len(session.used_nonces) == 8 and session.used_nonces[-1] == "n19"
