"""Sensitive variable values never appear in any page, for anyone, whatever happens."""

from __future__ import annotations

import secrets

from homeport.domain import environments, projects
from homeport.domain import variables as vars_
from tests.web.console.conftest import ConsoleWorld, crawl

ACTORS = ("owner", "project_admin", "platform_admin", "dev_admin", "dev_viewer", "machine")


def stored(cw: ConsoleWorld, env_name: str | None, name: str) -> str:
    with cw.api.state.db.session() as s:
        project = projects.get_project(s, cw.pid)
        env = environments.get_environment(s, project, env_name) if env_name else None
        row = vars_.get_listed(s, project, env, name).row
        return vars_.reveal(cw.api.state.secret_box, row)


def test_sensitive_values_are_absent_from_every_page(cw: ConsoleWorld) -> None:
    base = f"/console/projects/{cw.pid}"
    values = {k: f"{k}-{secrets.token_hex(12)}" for k in ("project", "dev", "main", "bad")}
    owner = cw.browser("owner")

    r = owner.post(
        f"{base}/variables",
        {
            "name": "env:API_KEY",
            "value": values["project"],
            "is_sensitive": "on",
            "visible_runtime": "on",
        },
    )
    assert r.status_code == 303, r.text
    r = cw.browser("dev_admin").post(
        f"{base}/environments/dev/variables",
        {
            "name": "DB_PASSWORD",
            "value": values["dev"],
            "is_sensitive": "on",
            "visible_build": "on",
            "visible_runtime": "on",
            "is_enabled": "on",
            "is_inheritable": "on",
        },
    )
    assert r.status_code == 303, r.text
    # An existing plain variable becomes sensitive through its edit form; stage inherits it.
    r = owner.post(
        f"{base}/environments/main/variables/ev/edit",
        {
            "value": values["main"],
            "is_sensitive": "on",
            "visible_runtime": "on",
            "is_enabled": "on",
            "is_inheritable": "on",
        },
    )
    assert r.status_code == 303, r.text
    # A failed attempt re-shows the form without the value.
    r = owner.post(
        f"{base}/variables",
        {"name": "BAD", "value": values["bad"] + "{", "is_json": "on", "is_sensitive": "on"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.text

    for actor in ACTORS:
        pages = crawl(cw.browser(actor))
        assert len(pages) > 5, actor
    # The edit forms of sensitive ones, including the inherited one on stage.
    for path in (
        f"{base}/variables/env%3AAPI_KEY/edit",
        f"{base}/environments/dev/variables/DB_PASSWORD/edit",
        f"{base}/environments/main/variables/ev/edit",
        f"{base}/environments/stage/variables/ev/edit",
    ):
        page = owner.get(path)
        assert page.status_code == 200, path
        assert "Write-only: leave empty to keep the current value" in page.text
    assert "inherited from main" in owner.get(f"{base}/environments/stage/variables").text

    everything = "\n".join(cw.seen)
    for value in values.values():
        assert value not in everything
    assert stored(cw, None, "env:API_KEY") == values["project"]
    assert stored(cw, "main", "ev") == values["main"]


def test_saving_a_sensitive_variable_with_an_empty_value_keeps_it(cw: ConsoleWorld) -> None:
    base = f"/console/projects/{cw.pid}/variables"
    owner = cw.browser("owner")
    secret = "keep-" + secrets.token_hex(8)
    owner.post(base, {"name": "TOKEN", "value": secret, "is_sensitive": "on"})
    r = owner.post(f"{base}/TOKEN/edit", {"value": "", "visible_build": "on"})
    assert r.status_code == 303, r.text
    assert stored(cw, None, "TOKEN") == secret
    r = owner.post(f"{base}/TOKEN/edit", {"value": "replaced", "visible_build": "on"})
    assert stored(cw, None, "TOKEN") == "replaced"
    listing = owner.get(base).text
    assert "replaced" not in listing and secret not in listing


def test_a_sensitive_variable_cannot_be_made_plain_from_the_form(cw: ConsoleWorld) -> None:
    base = f"/console/projects/{cw.pid}/variables"
    owner = cw.browser("owner")
    owner.post(base, {"name": "S", "value": "hidden value 1", "is_sensitive": "on"})
    form = owner.get(f"{base}/S/edit").text
    assert 'name="is_sensitive"' not in form  # the box is not offered again
    owner.post(f"{base}/S/edit", {"value": ""})  # a forged form without the box
    assert "hidden value 1" not in owner.get(f"{base}/S/edit").text
    assert "sensitive" in owner.get(base).text
