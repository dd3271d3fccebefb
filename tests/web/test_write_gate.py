"""The write gate: writers queue on the event loop, in order, with a bounded wait."""

from __future__ import annotations

import asyncio

import pytest

from homeport.web.write_gate import WriteGate, WriteQueueTimeout


def test_one_writer_at_a_time_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        gate = WriteGate(timeout=5)
        events: list[str] = []
        inside = 0

        async def writer(name: str) -> None:
            nonlocal inside
            async with gate.turn():
                inside += 1
                assert inside == 1
                events.append(name)
                await asyncio.sleep(0)
                inside -= 1

        await asyncio.gather(*(writer(f"w{i}") for i in range(50)))
        return events

    assert asyncio.run(scenario()) == [f"w{i}" for i in range(50)]


def test_several_slots_for_server_databases() -> None:
    async def scenario() -> int:
        gate = WriteGate(timeout=5, slots=3)
        inside = peak = 0

        async def writer() -> None:
            nonlocal inside, peak
            async with gate.turn():
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(writer() for _ in range(12)))
        return peak

    assert asyncio.run(scenario()) == 3


def test_a_writer_that_waits_too_long_gets_503_and_the_gate_recovers() -> None:
    async def scenario() -> None:
        gate = WriteGate(timeout=0.05)
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.turn():
                await release.wait()

        task = asyncio.create_task(holder())
        await asyncio.sleep(0)
        with pytest.raises(WriteQueueTimeout) as caught:
            async with gate.turn():
                pass
        assert caught.value.status == 503 and caught.value.retry_after == 1
        assert gate.waiting == 0
        release.set()
        await task
        async with gate.turn():
            pass

    asyncio.run(scenario())
