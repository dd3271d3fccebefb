"""Crons on the environment page: the list with last and next runs, "Run now" for those
who may run crons there (admin on the type), and the note on what SSH access can read."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from homeport.domain import crons, environments, projects
from homeport.store.models import Activity, CronJob
from tests.web.console.conftest import ConsoleWorld

NEXT_RUN = datetime(2031, 1, 2, 5, 0, tzinfo=UTC)
RUN_NOW = re.compile(r'<button[^>]*aria-label="Run now: ([^"]+)"')
# dev is a development environment: admins of the project or of its type may run crons.
MAY_RUN = ("owner", "project_admin", "platform_admin", "dev_admin")
MAY_NOT_RUN = ("dev_viewer", "dev_contributor")


def insert_cron_row(
    cw: ConsoleWorld,
    env_name: str,
    name: str,
    app: str = "app",
    spec: str = "0 5 * * *",
    timezone: str | None = None,
    command: str | None = None,
) -> None:
    """Write a cron row as a deploy would (no app is deployed: tests need only the row)."""
    with cw.api.state.db.session(write=True) as s:
        env = environments.get_environment(s, projects.get_project(s, cw.pid), env_name)
        definition = {
            "spec": spec,
            "commands": {"start": command or f"php cron.php {name}"},
            "timeout": 86400,
            "shutdown_timeout": 10,
        }
        s.add(
            CronJob(
                environment_pk=env.pk,
                project_id=cw.pid,
                app=app,
                name=name,
                spec=spec,
                timezone=timezone,
                definition=definition,
                next_run_at=NEXT_RUN,
            )
        )


def env_page(cw: ConsoleWorld, env_name: str = "dev") -> str:
    return f"/console/projects/{cw.pid}/environments/{env_name}"


def cron_activities(cw: ConsoleWorld) -> list[Activity]:
    with cw.api.state.db.session() as s:
        rows = s.scalars(
            select(Activity).where(Activity.type == "environment.cron").order_by(Activity.pk)
        ).all()
        s.expunge_all()
        return list(rows)


@pytest.fixture
def dev_crons(cw: ConsoleWorld) -> ConsoleWorld:
    """dev with two crons of one app and one of another (sharing a name), and no other
    (the shared world's dev has one for the role matrix)."""
    with cw.api.state.db.session(write=True) as s:
        crons.clear(s, environments.get_environment(s, projects.get_project(s, cw.pid), "dev"))
    insert_cron_row(cw, "dev", "nightly", command="php bin/console app:nightly --env=prod")
    insert_cron_row(cw, "dev", "report", spec="*/20 * * * *", timezone="Europe/Paris")
    insert_cron_row(cw, "dev", "nightly", app="worker", command="./sweep.sh")
    return cw


def test_list_shows_each_cron_with_its_schedule_command_and_runs(dev_crons: ConsoleWorld) -> None:
    html = dev_crons.browser("dev_viewer").get(env_page(dev_crons)).text
    section = html[html.index('id="crons"') :]
    rows = re.findall(r'<tr data-cron="([^"]+)" data-app="([^"]+)">', section)
    assert rows == [("nightly", "app"), ("report", "app"), ("nightly", "worker")]
    assert '<code>0 5 * * *</code> <span class="muted small">UTC</span>' in section
    assert '<code>*/20 * * * *</code> <span class="muted small">Europe/Paris</span>' in section
    assert "php bin/console app:nightly --env=prod" in section
    assert "./sweep.sh" in section
    assert section.count("never") == 3  # no run yet
    assert section.count('datetime="2031-01-02T05:00:00+00:00"') == 3  # next runs
    assert "2031-01-02 05:00:00 UTC" in section
    assert "No crons" not in html


def test_no_crons(cw: ConsoleWorld) -> None:
    html = cw.browser("owner").get(env_page(cw, "main")).text
    assert 'id="crons"' in html
    assert "No crons." in html
    assert "Run now" not in html


@pytest.mark.parametrize("actor", MAY_RUN)
def test_admins_see_run_now_on_each_row(dev_crons: ConsoleWorld, actor: str) -> None:
    html = dev_crons.browser(actor).get(env_page(dev_crons)).text
    assert RUN_NOW.findall(html) == ["nightly (app)", "report (app)", "nightly (worker)"]
    forms = re.findall(
        r'<form method="post" action="([^"]+/crons/[^"]+)"[^>]*>(.*?)</form>', html, re.S
    )
    assert [action.rsplit("/environments/", 1)[1] for action, _ in forms] == [
        "dev/crons/nightly/run",
        "dev/crons/report/run",
        "dev/crons/nightly/run",
    ]
    for _, body in forms:
        assert 'name="csrf_token"' in body
    assert 'name="app" value="worker"' in forms[2][1]


@pytest.mark.parametrize("actor", MAY_NOT_RUN)
def test_viewers_and_contributors_see_the_crons_but_no_button(
    dev_crons: ConsoleWorld, actor: str
) -> None:
    html = dev_crons.browser(actor).get(env_page(dev_crons)).text
    assert 'data-cron="report"' in html
    assert "Run now" not in html
    assert "/crons/" not in html


def test_admin_runs_a_cron_now(dev_crons: ConsoleWorld) -> None:
    cw = dev_crons
    browser = cw.browser("dev_admin")
    cw.api.state.wake_event.clear()
    response = browser.post(f"{env_page(cw)}/crons/nightly/run", {"app": "worker"})
    assert response.status_code == 303
    [activity] = cron_activities(cw)
    location = response.headers["location"]
    assert location == f"{env_page(cw)}?queued={activity.id}#crons"
    assert activity.state == "pending"
    assert activity.parameters["cron"] == "nightly"
    assert activity.parameters["application"] == "worker"
    assert activity.environments == ["dev"]
    assert activity.actor_id == cw.id("dev_admin")
    assert cw.api.state.wake_event.is_set()  # the worker is told at once

    html = browser.get(location.split("#")[0]).text
    notice = re.search(r'<p class="notice" role="status" id="cron-queued">(.*?)</p>', html, re.S)
    assert notice is not None
    assert "<strong>nightly</strong>" in notice.group(1)
    assert "<code>worker</code>" in notice.group(1)
    link = f'/console/projects/{cw.pid}/activities/{activity.id}"'
    assert link in notice.group(1)
    # The row now links its last run to the activity, with its state.
    row = re.search(r'<tr data-cron="nightly" data-app="worker">(.*?)</tr>', html, re.S)
    assert row is not None
    assert link in row.group(1) and "pending" in row.group(1)
    other = re.search(r'<tr data-cron="nightly" data-app="app">(.*?)</tr>', html, re.S)
    assert other is not None and "never" in other.group(1)
    # The activity page the notice links to opens.
    assert browser.get(link.rstrip('"')).status_code == 200


def test_a_cron_name_several_apps_share_needs_the_app(dev_crons: ConsoleWorld) -> None:
    response = dev_crons.browser("owner").post(f"{env_page(dev_crons)}/crons/nightly/run")
    assert response.status_code == 409
    assert "choose one" in response.text
    assert cron_activities(dev_crons) == []


@pytest.mark.parametrize("actor", MAY_NOT_RUN)
def test_a_forged_post_by_a_viewer_or_contributor_is_refused(
    dev_crons: ConsoleWorld, actor: str
) -> None:
    response = dev_crons.browser(actor).post(f"{env_page(dev_crons)}/crons/report/run")
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert cron_activities(dev_crons) == []


@pytest.mark.parametrize("actor", MAY_RUN)
def test_every_admin_of_the_type_may_run(dev_crons: ConsoleWorld, actor: str) -> None:
    response = dev_crons.browser(actor).post(f"{env_page(dev_crons)}/crons/report/run")
    assert response.status_code == 303
    [activity] = cron_activities(dev_crons)
    assert activity.actor_id == dev_crons.id(actor)
    assert activity.payload["user"]["id"] == dev_crons.id(actor)


@pytest.mark.parametrize("actor", ("machine", "other_admin"))
def test_who_cannot_see_the_environment_gets_not_found(dev_crons: ConsoleWorld, actor: str) -> None:
    # The machine user holds no role on development environments; other_admin is no member.
    response = dev_crons.browser(actor).post(f"{env_page(dev_crons)}/crons/report/run")
    assert response.status_code == 404
    assert cron_activities(dev_crons) == []


def test_anonymous_post_is_refused(dev_crons: ConsoleWorld) -> None:
    response = dev_crons.browser().post(f"{env_page(dev_crons)}/crons/report/run", csrf=False)
    assert response.status_code == 403
    assert cron_activities(dev_crons) == []


def test_bad_or_missing_csrf_token_is_refused(dev_crons: ConsoleWorld) -> None:
    browser = dev_crons.browser("owner")
    path = f"{env_page(dev_crons)}/crons/report/run"
    assert browser.post(path, {"csrf_token": "forged"}).status_code == 403
    assert browser.post(path, csrf=False).status_code == 403
    other = dev_crons.browser("dev_admin")  # another session's token does not pass either
    assert browser.post(path, {"csrf_token": other.csrf_token()}).status_code == 403
    assert cron_activities(dev_crons) == []


def test_unknown_cron_is_a_not_found_page(dev_crons: ConsoleWorld) -> None:
    response = dev_crons.browser("owner").post(f"{env_page(dev_crons)}/crons/nope/run")
    assert response.status_code == 404
    assert "Cron not found: nope" in response.text
    assert cron_activities(dev_crons) == []


def test_inactive_environment_shows_crons_paused_and_runs_none(cw: ConsoleWorld) -> None:
    insert_cron_row(cw, "old", "nightly")
    browser = cw.browser("owner")
    html = browser.get(env_page(cw, "old")).text
    row = re.search(r'<tr data-cron="nightly" data-app="app">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "paused" in row.group(1) and "2031" not in row.group(1)
    assert "Run now" not in html
    response = browser.post(f"{env_page(cw, 'old')}/crons/nightly/run")
    assert response.status_code == 409
    assert cron_activities(cw) == []


def test_queued_notice_names_only_cron_activities_of_this_environment(
    dev_crons: ConsoleWorld,
) -> None:
    cw = dev_crons
    browser = cw.browser("owner")
    for value in (cw.activity_ids["pending"], "<script>x</script>", "nope", "a" * 500):
        html = browser.get(env_page(cw), params={"queued": value}).text
        assert 'id="cron-queued"' not in html
        assert "<script>x" not in html
    browser.post(f"{env_page(cw)}/crons/report/run")
    [activity] = cron_activities(cw)
    html = browser.get(env_page(cw, "main"), params={"queued": activity.id}).text
    assert 'id="cron-queued"' not in html  # dev's run is not announced on main


def test_each_run_now_is_its_own_activity(dev_crons: ConsoleWorld) -> None:
    browser = dev_crons.browser("project_admin")
    for _ in range(2):
        response = browser.post(f"{env_page(dev_crons)}/crons/report/run")
        assert response.status_code == 303
    runs = cron_activities(dev_crons)
    assert len(runs) == 2 and len({a.id for a in runs}) == 2
    with dev_crons.api.state.db.session() as s:
        last = s.scalar(select(CronJob.last_activity_id).where(CronJob.name == "report"))
        assert last == runs[-1].id
        assert s.scalar(select(func.count()).select_from(CronJob)) == 3


@pytest.mark.parametrize("actor", ("dev_viewer", "dev_contributor", "owner"))
def test_ssh_note_warns_that_env_variables_are_readable(cw: ConsoleWorld, actor: str) -> None:
    html = cw.browser(actor).get(env_page(cw)).text
    note = re.search(r'<div class="caution" id="ssh-variables-note">(.*?)</div>', html, re.S)
    assert note is not None
    text = re.sub(r"<[^>]+>", "", note.group(1))
    assert "env:PLATFORMSH_CLI_TOKEN" in text
    assert "anyone with SSH access" in text
    assert "contributors by default" in text and "access.ssh" in text
    assert "machine user holding only the roles it needs" in text
    assert "contributor and above" in html  # the SSH access line of the details
