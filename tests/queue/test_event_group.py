"""The webhooks' consumer group on the events stream: at least once, across consumers."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import JobEvent, Queue

pytestmark = pytest.mark.integration


def _ids(entries: list[tuple[str, JobEvent | None]]) -> list[str]:
    return [e.job_id for _, e in entries if e is not None]


def _event(job_id: str) -> bytes:
    return (
        b'{"job_id":"' + job_id.encode() + b'","kind":"upload","status":"complete",'
        b'"attempt":1,"enqueued_ms":1,"finished_ms":2}'
    )


async def _add(redis: Redis, key: str, *job_ids: str) -> list[str]:
    return [(await redis.xadd(key, {"e": _event(j)})).decode() for j in job_ids]


async def test_each_event_goes_to_one_consumer_until_acknowledged(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue)
    (one,), (two,) = q.event_groups("w1"), q.event_groups("w2")
    await one.create()
    await two.create()  # exists: no error
    ids = await _add(redis, q.keys.events, "a", "b", "c")
    got_one = await one.read(2, None)
    got_two = await two.read(10, None)
    assert _ids(got_one) + _ids(got_two) == ["a", "b", "c"]
    assert [i for i, _ in got_one + got_two] == ids
    assert await one.read(10, None) == []
    # Unacknowledged events stay w1's: asked again under its name, they come back.
    assert _ids(await one.mine(10)) == ["a", "b"]
    await one.ack(ids[:2])
    assert await one.mine(10) == []


async def test_a_dead_consumers_events_are_taken_over_after_idle(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue)
    (dead,), (alive,) = q.event_groups("dead"), q.event_groups("alive")
    await dead.create()
    await _add(redis, q.keys.events, "a", "b")
    assert len(await dead.read(10, None)) == 2  # then it dies without acknowledging
    assert await alive.take_over(idle_s=5, count=10) == []  # not idle long enough yet
    await asyncio.sleep(0.3)
    taken = await alive.take_over(idle_s=0.2, count=10)
    assert _ids(taken) == ["a", "b"]
    assert _ids(await alive.mine(10)) == ["a", "b"]
    # A consumer retrying a delivery touches it: it is not taken over from under it.
    await asyncio.sleep(0.3)
    await alive.touch([i for i, _ in taken])
    assert await dead.take_over(idle_s=0.2, count=10) == []


async def test_events_trimmed_before_delivery_are_detected(redis: Redis, queue: str) -> None:
    """Trimmed after delivery: nothing lost; trimmed before: how many the group lost."""
    q = Queue(redis, queue)
    (group,) = q.event_groups("w1")
    await group.create()
    await _add(redis, q.keys.events, "a", "b")
    delivered = await group.read(2, None)
    await group.ack([i for i, _ in delivered])
    await _add(redis, q.keys.events, "c", "d")
    await redis.xtrim(q.keys.events, maxlen=2, approximate=False)  # only delivered events went
    assert await group.trimmed() is None
    await redis.xtrim(
        q.keys.events, maxlen=1, approximate=False
    )  # "c" went undelivered, as MAXLEN does
    assert await group.trimmed() == (delivered[-1][0], 1)
    assert _ids(await group.read(10, None)) == ["d"]
    assert await group.trimmed() is None
