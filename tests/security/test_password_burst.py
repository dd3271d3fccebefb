"""Finding 7: concurrent password guesses are limited exactly like sequential ones.

Before the fix the limiter was checked before argon2 and updated after it: 30 parallel
wrong passwords after a quiet window were all checked, a right one in the same burst
succeeded, and a 100-request burst was checked 36 times against a limit of 10. Every
answer that is not 429 below is an attempt the server really checked.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

LIMIT = 10  # HOMEPORT_AUTH_FAILURE_LIMIT's default


def _login(target: Target, username: str, password: str, source: str = "127.0.0.1") -> int:
    """One password grant from ``source`` (any 127/8 address reaches the server)."""
    url = urllib.parse.urlsplit(target.url)
    conn = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=60, source_address=(source, 0)
    )
    body = urllib.parse.urlencode(
        {"grant_type": "password", "username": username, "password": password}
    )
    try:
        conn.request(
            "POST",
            "/oauth2/token",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        payload = json.loads(response.read() or b"{}")
        if response.status == 429:
            assert response.getheader("Retry-After"), "429 without Retry-After"
            assert payload["error"] == "too_many_requests"
        return response.status
    finally:
        conn.close()


def _burst(target: Target, attempts: list[tuple[str, str, str]]) -> list[int]:
    start = threading.Barrier(len(attempts))

    def one(attempt: tuple[str, str, str]) -> int:
        start.wait(timeout=60)
        return _login(target, *attempt)

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(one, attempts))


def test_a_burst_is_checked_at_most_limit_times(target: Target) -> None:
    target.person("victim@example.com", password="the right password")
    wrong = [("victim@example.com", f"guess {i}", "127.0.0.2") for i in range(30)]
    assert Counter(_burst(target, wrong)) == {400: LIMIT, 429: 30 - LIMIT}
    # The allowance is spent: the right password now waits for the window too.
    assert _login(target, "victim@example.com", "the right password", "127.0.0.3") == 429


def test_a_right_password_hidden_in_a_burst_gets_no_extra_tries(target: Target) -> None:
    target.person("victim2@example.com", password="the right password")
    wrong = [("victim2@example.com", f"guess {i}", "127.0.0.9") for i in range(30)]
    right = ("victim2@example.com", "the right password", "127.0.0.9")
    counts = Counter(_burst(target, [*wrong, right]))
    assert set(counts) <= {200, 400, 429}, counts
    assert len(wrong) + 1 - counts[429] <= LIMIT, counts  # checked at most LIMIT times


def test_hundred_parallel_guesses_from_one_address(target: Target) -> None:
    target.person("other@example.com", password="another right password")
    statuses = _burst(target, [(f"user{i}@example.com", "guess", "127.0.0.4") for i in range(100)])
    assert len(statuses) - Counter(statuses)[429] <= LIMIT, Counter(statuses)
    # Other addresses and accounts are unaffected.
    assert _login(target, "other@example.com", "another right password", "127.0.0.5") == 200


def test_email_and_username_share_one_allowance(target: Target) -> None:
    target.person("shared@example.com", password="shared right password")
    half = LIMIT // 2
    by_email = [("shared@example.com", "guess", "127.0.0.6")] * half
    by_username = [("shared", "guess", "127.0.0.7")] * half
    statuses = _burst(target, by_email + by_username)
    assert Counter(statuses) == {400: LIMIT}
    for login in ("shared", "shared@example.com", "SHARED@example.com"):
        assert _login(target, login, "shared right password", "127.0.0.8") == 429
