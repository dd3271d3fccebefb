"""GET /metrics: HTTP, activity, token and backup metrics; who may read them."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from homeport.settings import Settings
from homeport.web.app import create_app
from homeport.web.state import AppState
from tests.helpers import Api, assert_error
from tests.world import drain

LOOPBACK = ("127.0.0.1", 40000)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape_text(api: Api, headers: dict[str, str] | None = None) -> httpx.Response:
    """GET /metrics from loopback, on the app of ``api``."""
    client = TestClient(api.client.app, client=LOOPBACK, raise_server_exceptions=False)
    response: httpx.Response = client.get("/metrics", headers=headers or {})
    return response


def scrape(api: Api) -> Samples:
    response = scrape_text(api)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template(api: Api, admin: str) -> None:
    before = scrape(api)
    raw_id = "zz9plural9alpha"
    for _ in range(2):
        api.get(f"/projects/{raw_id}", admin)
    api.get("/users/me", admin)
    api.client.post("/oauth2/token", data={"grant_type": "api_token", "api_token": "nope"})
    api.get("/no/such/place/qq7xyzzy")
    api.get("/git/qq8plugh.git/info/refs")
    after = scrape(api)

    def delta(**labels: str) -> float:
        name = "homeport_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(route="/projects/{project_id}", method="GET", status="404") == 2
    assert delta(route="/users/me", method="GET", status="200") == 1
    assert delta(route="/oauth2/token", method="POST", status="400") == 1
    assert delta(route="other", method="GET", status="404") == 1
    assert delta(route="/git/{path}", method="GET", status="404") == 1
    count = "homeport_http_request_duration_seconds_count"
    labels = {"route": "/projects/{project_id}", "method": "GET", "status": "404"}
    assert value(after, count, **labels) - value(before, count, **labels) == 2
    text = scrape_text(api).text
    # Templates only: no raw ids or paths, and nothing of the caller.
    for secret in (raw_id, "qq7xyzzy", "qq8plugh", admin, "root@example.com"):
        assert secret not in text


def test_token_exchanges_by_grant_and_outcome(api: Api) -> None:
    api.create_account("ada@example.com", password="a long password")
    name = "homeport_token_exchanges_total"
    before = scrape(api)
    good = {"grant_type": "password", "username": "ada", "password": "a long password"}
    assert api.client.post("/oauth2/token", data=good).status_code == 200
    bad = {**good, "password": "not it at all"}
    assert api.client.post("/oauth2/token", data=bad).status_code == 400
    assert api.client.post("/oauth2/token", data={"grant_type": "magic"}).status_code == 400
    after = scrape(api)

    def delta(grant: str, outcome: str) -> float:
        labels = {"grant_type": grant, "outcome": outcome}
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("password", "success") == 1
    assert delta("password", "invalid_grant") == 1
    assert delta("other", "unsupported_grant_type") == 1
    text = scrape_text(api).text
    assert "a long password" not in text and "magic" not in text and "ada" not in text


def test_activity_and_backup_metrics_after_draining(api: Api, admin: str) -> None:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    pid = str(body["_embedded"]["entity"]["id"])
    drain(api)
    r = api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "dev"})
    assert r.status_code in (200, 201, 202), r.text
    queued = scrape(api)
    assert value(queued, "homeport_activities_pending") >= 1
    assert value(queued, "homeport_activities_oldest_pending_age_seconds") >= 0
    drain(api)
    r = api.post(f"/projects/{pid}/environments/main/backup", admin, json={"safe": True})
    assert r.status_code == 200, r.text
    drain(api)
    after = scrape(api)
    assert value(after, "homeport_activities_pending") == 0
    assert value(after, "homeport_activities_oldest_pending_age_seconds") == 0
    name = "homeport_activities_total"
    labels = {"type": "environment.branch", "state": "complete", "result": "success"}
    assert value(after, name, **labels) - value(queued, name, **labels) >= 1
    backup = {"type": "environment.backup", "state": "complete", "result": "success"}
    assert value(after, name, **backup) - value(queued, name, **backup) == 1
    took = "homeport_activity_duration_seconds_count"
    assert value(after, took, type="environment.backup") > value(
        queued, took, type="environment.backup"
    )
    assert value(after, "homeport_backup_bytes_total") > value(
        queued, "homeport_backup_bytes_total"
    )
    count = "homeport_backup_duration_seconds_count"
    assert value(after, count) == value(queued, count) + 1
    assert value(after, "homeport_db_pool_size") >= 1
    assert ("homeport_db_pool_checked_out", frozenset()) in after
    assert pid not in scrape_text(api).text


def test_metrics_need_loopback_without_a_token(api: Api) -> None:
    # The test client's peer is "testclient": not loopback.
    body = assert_error(api.get("/metrics"), 403)
    assert "HOMEPORT_METRICS_TOKEN" in body["message"]
    assert scrape_text(api).status_code == 200
    # Through a proxy on this machine the peer is loopback, but the caller is not.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert_error(scrape_text(api, {header: "203.0.113.9"}), 403)


@pytest.fixture
def guarded(settings: Settings, state: AppState) -> TestClient:
    app = create_app(dataclasses.replace(settings, metrics_token="m3trics-s3cret"), state)
    return TestClient(app, client=LOOPBACK, raise_server_exceptions=False)


def test_metrics_token_is_required_when_set(guarded: TestClient) -> None:
    # Even from loopback.
    response = guarded.get("/metrics")
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(guarded.get("/metrics", headers={"Authorization": "Basic m3trics-s3cret"}), 401)
    ok = guarded.get("/metrics", headers={"Authorization": "Bearer m3trics-s3cret"})
    assert ok.status_code == 200
    assert "homeport_http_requests_total" in ok.text
    assert "m3trics-s3cret" not in ok.text
    remote = TestClient(guarded.app, raise_server_exceptions=False)
    assert remote.get("/metrics", headers={"Authorization": "Bearer m3trics-s3cret"}).is_success


def test_metrics_is_not_in_the_api_description(api: Api) -> None:
    assert "/metrics" not in api.get("/openapi.json").json()["paths"]


def test_request_id_header(api: Api) -> None:
    first = api.get("/health").headers["x-request-id"]
    second = api.get("/health").headers["x-request-id"]
    assert first != second and 16 <= len(first) <= 64
    given = api.get("/health", headers={"X-Request-Id": "abc.DEF_123-x"})
    assert given.headers["x-request-id"] == "abc.DEF_123-x"
    for insane in ("a" * 65, "has space", "semi;colon", ""):
        answered = api.get("/health", headers={"X-Request-Id": insane})
        assert answered.headers["x-request-id"] != insane
        assert len(answered.headers.get_list("x-request-id")) == 1
