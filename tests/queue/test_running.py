"""Ready, running or deferred on fakeredis: a running job's score is its lease's deadline.

The claim moves a taken job's score to the lease's deadline (``Queue.claim``), so a running
job sits after now, among deferred ones; only its lease tells it apart. These queues hold more
ready jobs than are checked for a lease, as a busy queue does.
"""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import LEASES_CHECKED, QueueKeys, list_ids, queue_depth

READY = LEASES_CHECKED + 200  # more ready jobs than the ids checked on that side


async def run(fake_redis: Redis, lane: str, job_id: str, score_ms: int) -> None:
    """Puts a job in a lane as the claim leaves it: leased, scored at the lease's deadline."""
    await fake_redis.zadd(lane, {job_id: score_ms})
    await fake_redis.set(QueueKeys.in_progress(job_id), b"worker-1", px=60_000)


async def busy_queue(fake_redis: Redis, now_ms: int) -> QueueKeys:
    """READY ready jobs; deferred and running jobs interleaved by score after now."""
    keys = QueueKeys("q")
    await fake_redis.zadd("q", {f"ready-{i:05d}": now_ms - 60_000 + i for i in range(READY)})
    await fake_redis.zadd(
        "q",
        {
            "deferred-0": now_ms + 1_000,  # due before the running jobs' deadlines
            "deferred-1": now_ms + 3_000,
            "deferred-2": now_ms + 5_000,
            "deferred-3": now_ms + 3_600_000,
        },
    )
    for n, offset in enumerate((2_000, 4_000, 10_000)):
        await run(fake_redis, "q", f"running-{n}", now_ms + offset)
    return keys


async def test_running_jobs_are_counted_in_progress_not_deferred(fake_redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    await busy_queue(fake_redis, now_ms)
    depth = await queue_depth(fake_redis, "q", in_progress_limit=LEASES_CHECKED)
    assert (depth.depth, depth.in_progress, depth.deferred) == (READY, 3, 4)
    assert depth.total == READY + 7
    assert not depth.in_progress_exact  # more ready jobs than were checked
    normal = depth.lanes["normal"]
    assert (normal.depth, normal.in_progress, normal.deferred) == (READY, 3, 4)
    assert 55 < depth.oldest_age < 120


async def test_the_deferred_list_leaves_running_jobs_out_on_every_page(fake_redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    await busy_queue(fake_redis, now_ms)
    expected = ["deferred-0", "deferred-1", "deferred-2", "deferred-3"]
    for size in (1, 2, 3, 10):
        seen: list[str] = []
        for offset in range(0, 6, size):
            page, total = await list_ids(fake_redis, "q", "deferred", offset=offset, limit=size)
            assert total == 4
            seen += [job_id for job_id, _ in page]
        assert seen == expected, size
    page, _ = await list_ids(fake_redis, "q", "deferred", offset=0, limit=1)
    assert page == [("deferred-0", (now_ms + 1_000) / 1000)]


async def test_a_job_held_while_due_is_neither_queued_nor_deferred(fake_redis: Redis) -> None:
    """Plain arq leases a job without moving its score: it is running, not queued."""
    now_ms = int(time.time() * 1000)
    await fake_redis.zadd("q", {f"r{i}": now_ms - 10_000 + i for i in range(5)})
    for job_id in ("r0", "r3"):
        await fake_redis.set(QueueKeys.in_progress(job_id), b"arq", px=60_000)
    page, total = await list_ids(fake_redis, "q", "queued", offset=0, limit=10)
    assert [job_id for job_id, _ in page] == ["r1", "r2", "r4"] and total == 3
    page, _ = await list_ids(fake_redis, "q", "queued", offset=1, limit=1)
    assert [job_id for job_id, _ in page] == ["r2"]
    depth = await queue_depth(fake_redis, "q")
    assert (depth.depth, depth.in_progress, depth.deferred) == (3, 2, 0)
    assert depth.in_progress_exact


async def test_lanes_page_in_order_without_their_running_jobs(fake_redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    keys = QueueKeys("q")
    high, bulk = keys.lane("high"), keys.lane("bulk")
    await run(fake_redis, high, "high-running", now_ms + 10_000)
    await fake_redis.zadd(high, {"high-later": now_ms + 60_000})
    await run(fake_redis, "q", "normal-running", now_ms + 10_000)
    await fake_redis.zadd(bulk, {"bulk-later": now_ms + 20_000})
    await run(fake_redis, bulk, "bulk-running", now_ms + 10_000)
    page, total = await list_ids(fake_redis, "q", "deferred", offset=0, limit=10)
    assert [job_id for job_id, _ in page] == ["high-later", "bulk-later"] and total == 2
    page, _ = await list_ids(fake_redis, "q", "deferred", offset=1, limit=10)
    assert [job_id for job_id, _ in page] == ["bulk-later"]
    depth = await queue_depth(fake_redis, "q")
    assert (depth.depth, depth.in_progress, depth.deferred) == (0, 3, 2)
    assert {name: lane.in_progress for name, lane in depth.lanes.items()} == {
        "high": 1,
        "normal": 1,
        "bulk": 1,
    }


async def test_a_lapsed_lease_makes_a_running_job_deferred_until_due(fake_redis: Redis) -> None:
    """A dead worker's job: no lease, its score still ahead: it waits like a deferred one."""
    now_ms = int(time.time() * 1000)
    await fake_redis.zadd("q", {"orphan": now_ms + 10_000})
    depth = await queue_depth(fake_redis, "q")
    assert (depth.depth, depth.in_progress, depth.deferred) == (0, 0, 1)


async def test_an_idle_queue_is_read_with_one_command_a_side(
    fake_redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty queue costs one ``ZRANGEBYSCORE`` a side: an idle worker's gauges, every 5 s.

    A side fuller than the ids checked adds its ``ZCOUNT``, and the counts stay exact.
    """
    from redis.asyncio.client import Pipeline

    sent: list[str] = []
    execute = Pipeline.execute

    async def counting(self: Pipeline, raise_on_error: bool = True) -> list[object]:
        sent.extend(str(args[0]) for args, _ in self.command_stack)
        return await execute(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", counting)
    depth = await queue_depth(fake_redis, "idle", in_progress_limit=LEASES_CHECKED)
    assert (depth.depth, depth.deferred, depth.in_progress) == (0, 0, 0)
    assert sent == ["ZRANGEBYSCORE"] * 6  # three lanes, two sides each
    sent.clear()
    now_ms = int(time.time() * 1000)
    await busy_queue(fake_redis, now_ms)
    sent.clear()
    depth = await queue_depth(fake_redis, "q", in_progress_limit=LEASES_CHECKED)
    assert (depth.depth, depth.in_progress, depth.deferred) == (READY, 3, 4)
    assert sent.count("ZCOUNT") == 1  # only the ready side holds more than were checked
