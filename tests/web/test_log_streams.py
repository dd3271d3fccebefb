"""Log-stream slots per account, and the one watcher that wakes idle streams."""

from __future__ import annotations

import asyncio

import pytest

from homeport.domain import activities as acts
from homeport.store.models import Activity
from homeport.web.log_streams import StreamSlots, TooManyStreams
from tests.helpers import Api


def test_slots_are_per_account_and_release_is_idempotent() -> None:
    slots = StreamSlots(cap=2)
    first, second = slots.acquire("a"), slots.acquire("a")
    with pytest.raises(TooManyStreams) as info:
        slots.acquire("a")
    assert info.value.status == 429 and "limit is 2" in info.value.message
    other = slots.acquire("b")  # another account is unaffected
    first()
    first()  # a second release gives nothing back twice
    assert slots.held("a") == 1
    third = slots.acquire("a")
    for release in (second, third, other):
        release()
    assert slots.held("a") == 0 and slots.held("b") == 0


def test_watcher_wakes_a_waiting_stream_when_its_activity_logs(api: Api, admin: str) -> None:
    pid = api.post("/projects", admin, json={"title": "W"}).json()["_embedded"]["entity"]["id"]
    with api.state.db.session(write=True) as s:
        row = acts.record(
            s,
            project_id=pid,
            type="test.kind",
            actor=None,
            phrase=acts.Phrase().add("x"),
            environments=["main"],
            pending=True,
            queue_key=f"{pid}:main",
        )
        pk = row.pk
    watch = api.state.log_watch

    async def scenario() -> tuple[bool, bool, int]:
        async with watch.watch(pk) as news:
            await asyncio.wait_for(news.wait(), 5)  # the first look always wakes
            news.clear()
            quiet = not await _woken(news, 0.3)  # nothing happened: it stays asleep
            probes_while_quiet = watch.probes
            with api.state.db.session(write=True) as s:
                acts.append_log(s, pk, "a line\n")
            woke = await _woken(news, 5)
        return quiet, woke, probes_while_quiet

    quiet, woke, probes = asyncio.run(scenario())
    assert quiet and woke
    assert probes >= 2  # one query per tick for all streams, not per stream
    with api.state.db.session() as s:
        assert s.get(Activity, pk) is not None


async def _woken(event: asyncio.Event, within: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), within)
    except TimeoutError:
        return False
    return True
