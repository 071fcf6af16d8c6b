"""Schedules on Redis: written, fired once by racing workers, caught up, skipped, recovered.

Every test runs on one server unsharded, on one server over three shards, and on a real
3-master Redis Cluster (fakeredis has no Lua here). Time is passed in: nothing waits for a tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.crc import key_slot

from storage_jobs.jobs import DeleteJob
from storage_jobs.queue import (
    Cadence,
    Queue,
    ScheduleDefinition,
    ScheduleKeys,
    open_queue,
    tick_job_id,
)
from storage_jobs.queue._ticks import PENDING_RETRY_MS
from storage_jobs.settings import Settings
from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration

T0 = 1_900_000_000_000  # the schedules' "now" when added (ms)
EVERY = 10_000


@pytest.fixture(params=["one-server", "sharded", "cluster"])
def settings(request: pytest.FixtureRequest, redis_server: TestRedis, queue: str) -> Settings:
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
        return Settings(redis_url=url, queue_name=queue, queue_shards=3)
    shards = 3 if request.param == "sharded" else 1
    return Settings(redis_url=redis_server.url(13), queue_name=queue, queue_shards=shards)


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[list[Queue]]:
    """Three workers' queues, each on a connection of its own."""
    queues = [await open_queue(settings, worker_id=f"w{i}") for i in range(3)]
    yield queues
    for queue in queues:
        await queue.redis.aclose()


def definition(name: str = "nightly", overlap: str = "skip", key: str = "k") -> ScheduleDefinition:
    job = DeleteJob(bucket="bkt", keys=[key])
    return ScheduleDefinition(name, job, Cadence.build(every=EVERY / 1000), overlap=overlap)  # type: ignore[arg-type]


async def fire_together(queues: list[Queue], now_ms: int) -> list[str]:
    """Every worker checks at once; the outcomes of all of them."""
    rounds = await asyncio.gather(*(q.fire_schedules(now_ms) for q in queues))
    return [tick.outcome for r in rounds for tick in r.ticks]


async def test_a_tick_is_enqueued_once_however_many_workers_look(workers: list[Queue]) -> None:
    first = workers[0]
    assert await first.schedules.add(definition(), now_ms=T0) == "created"
    assert await fire_together(workers, T0 + EVERY - 1) == []  # not due yet
    assert await fire_together(workers, T0 + EVERY) == ["run"]
    assert await fire_together(workers, T0 + EVERY + 500) == []  # decided already
    job_id = first.job_id(tick_job_id(first.name, "nightly", T0 + EVERY))
    assert await first.status(job_id) == "queued"
    assert (await first.depth()).depth == 1
    record = await first.schedules.get("nightly")
    assert record is not None
    assert (record.runs, record.skipped, record.missed, record.last_job_id, record.pending) == (
        1,
        0,
        0,
        job_id,
        None,
    )
    assert record.next_ms == T0 + 2 * EVERY and record.kind == "delete"


async def test_missed_ticks_are_caught_up_by_one_run(workers: list[Queue]) -> None:
    first = workers[0]
    await first.schedules.add(definition(overlap="queue"), now_ms=T0)
    late = T0 + 6 * EVERY + 500  # six ticks fell while no worker ran
    assert await fire_together(workers, late) == ["run"]
    record = await first.schedules.get("nightly")
    assert record is not None and (record.runs, record.missed) == (1, 5)
    assert record.last_tick is not None and record.next_ms == T0 + 7 * EVERY
    assert await first.status(tick_job_id(first.name, "nightly", T0 + 6 * EVERY)) == "queued"
    assert (await first.depth()).depth == 1


async def test_overlap_skip_skips_while_the_last_run_waits_and_queue_does_not(
    workers: list[Queue],
) -> None:
    first = workers[0]
    await first.schedules.add(definition("skips"), now_ms=T0)
    await first.schedules.add(definition("queues", overlap="queue", key="q"), now_ms=T0)
    assert sorted(await fire_together(workers, T0 + EVERY)) == ["run", "run"]
    # No worker took the first runs: they are still queued at the next tick.
    assert sorted(await fire_together(workers, T0 + 2 * EVERY)) == ["run", "skipped"]
    skips, queues = await first.schedules.get("skips"), await first.schedules.get("queues")
    assert skips is not None and (skips.runs, skips.skipped) == (1, 1)
    assert queues is not None and (queues.runs, queues.skipped) == (2, 0)
    assert (await first.depth()).depth == 3


async def test_a_tick_left_pending_by_a_dead_worker_is_enqueued_once(workers: list[Queue]) -> None:
    first, second, third = workers
    await first.schedules.add(definition(), now_ms=T0)
    record = await first.schedules.get("nightly")
    assert record is not None
    tick = T0 + EVERY
    job_id = first.job_id(tick_job_id(first.name, "nightly", tick))
    # A worker decides the tick, then dies before enqueueing it.
    decided = await first.schedules.decide(
        record, run=True, tick=tick, missed=0, job_id=job_id, now_ms=tick, retry_at=tick + 5_000
    )
    assert decided and await first.status(job_id) == "not_found"
    assert await fire_together([second, third], tick + 4_999) == []  # its grace holds
    assert await fire_together([second, third], tick + 5_000) == ["recovered", "recovered"]
    assert await first.status(job_id) == "queued" and (await first.depth()).depth == 1
    after = await first.schedules.get("nightly")
    assert after is not None and after.pending is None and after.runs == 1
    assert after.next_ms == T0 + 2 * EVERY  # back at its next tick in the due index
    assert (await first.schedules.soonest(1)) == [("nightly", T0 + 2 * EVERY)]
    assert PENDING_RETRY_MS >= 5_000


async def test_changing_pausing_resuming_and_removing(workers: list[Queue]) -> None:
    first = workers[0]
    store = first.schedules
    assert await store.add(definition(), now_ms=T0) == "created"
    assert await fire_together(workers, T0 + EVERY) == ["run"]
    # Declared again unchanged (an application's every start): its ticks stay put.
    assert await store.add(definition(), now_ms=T0 + 12_345) == "unchanged"
    again = await store.get("nightly")
    assert again is not None and again.next_ms == T0 + 2 * EVERY
    # Changed: anchored at the change, counters kept.
    assert await store.add(definition(key="other"), now_ms=T0 + 12_345) == "changed"
    changed = await store.get("nightly")
    assert changed is not None and (changed.next_ms, changed.runs) == (T0 + 22_345, 1)
    assert await store.pause("nightly") and not await store.pause("nightly")
    assert await fire_together(workers, T0 + 100 * EVERY) == []
    assert await store.add(definition(key="third"), now_ms=T0) == "changed"  # stays paused
    assert await fire_together(workers, T0 + 100 * EVERY) == []
    assert await store.resume("nightly", now_ms=T0 + 100 * EVERY)
    assert not await store.resume("nightly", now_ms=T0)
    resumed = await store.get("nightly")
    assert resumed is not None and not resumed.paused and resumed.next_ms == T0 + 101 * EVERY
    assert [r.name for r in await store.all()] == ["nightly"]
    assert await store.remove("nightly") and not await store.remove("nightly")
    assert await fire_together(workers, T0 + 200 * EVERY) == []
    assert await store.all() == [] and await store.soonest(5) == []


async def test_an_unreadable_job_is_skipped_not_crashed_on(workers: list[Queue]) -> None:
    first = workers[0]
    await first.schedules.add(definition(), now_ms=T0)
    await first.redis.hset(first.schedules.keys.schedule("nightly"), "payload", "{broken")  # type: ignore[misc]
    assert await fire_together(workers, T0 + EVERY) == ["unreadable"]
    record = await first.schedules.get("nightly")
    assert record is not None and record.job is None and (record.runs, record.skipped) == (0, 1)


async def test_a_schedule_whose_cadence_does_not_read_holds_up_no_other(
    workers: list[Queue],
) -> None:
    first = workers[0]
    await first.schedules.add(definition("broken"), now_ms=T0 - 1)  # due first
    await first.schedules.add(definition("fine", key="f"), now_ms=T0)
    key = first.schedules.keys.schedule("broken")
    await first.redis.hset(key, mapping={"every_ms": "", "cron": "not cron"})  # type: ignore[misc]
    rounds = [await q.fire_schedules(T0 + EVERY) for q in workers]
    outcomes = sorted((t.name, t.outcome) for r in rounds for t in r.ticks)
    assert outcomes == [("broken", "failed")] * 3 + [("fine", "run")]
    fine = await first.schedules.get("fine")
    assert fine is not None and fine.runs == 1


def test_every_key_of_a_tagged_queues_schedules_shares_its_home_slot() -> None:
    queue = Queue(None, "q", shards=3)  # type: ignore[arg-type]
    keys = ScheduleKeys(queue.home)
    slots = {key_slot(k.encode()) for k in (keys.index, keys.due, keys.schedule("a"))}
    assert slots == {key_slot(queue.home.encode())}
