"""Outcome history and the finished-job indexes on fakeredis."""

from __future__ import annotations

from redis.asyncio import Redis

from storage_jobs.queue import (
    FINISHED_KEPT,
    HISTORY_TTL,
    QueueKeys,
    list_ids,
    read_history,
    record_outcome,
)


async def test_outcomes_count_per_minute_and_expire(fake_redis: Redis) -> None:
    now = 1_800_000_000.0  # a minute boundary
    for outcome, at in [
        ("success", now),
        ("success", now + 59),
        ("retry", now + 1),
        ("failed", now + 61),
        ("invalid", now + 62),
    ]:
        await record_outcome(fake_redis, "q", f"j{at}", outcome, at=at)  # type: ignore[arg-type]
    history = await read_history(fake_redis, "q", minutes=3, now=now + 61)
    assert [(m.minute, m.success, m.retry, m.failed) for m in history] == [
        (int(now) - 60, 0, 0, 0),
        (int(now), 2, 1, 0),
        (int(now) + 60, 0, 0, 2),
    ]
    ttl = await fake_redis.ttl(QueueKeys("q").history(int(now // 60)))
    assert 0 < ttl <= HISTORY_TTL


async def test_finished_jobs_are_indexed_newest_first_and_retries_are_not(
    fake_redis: Redis,
) -> None:
    await record_outcome(fake_redis, "q", "a", "success", at=1.0)
    await record_outcome(fake_redis, "q", "b", "success", at=2.0)
    await record_outcome(fake_redis, "q", "r", "retry", at=3.0)
    await record_outcome(fake_redis, "q", "f", "invalid", at=4.0)
    complete, total = await list_ids(fake_redis, "q", "complete", offset=0, limit=10)
    assert complete == [("b", 2.0), ("a", 1.0)] and total == 2
    failed, _ = await list_ids(fake_redis, "q", "failed", offset=0, limit=10)
    assert failed == [("f", 4.0)]


async def test_the_finished_index_is_capped(fake_redis: Redis) -> None:
    async with fake_redis.pipeline(transaction=False) as pipe:
        pipe.zadd(QueueKeys("q").finished("complete"), {f"old{i}": i for i in range(FINISHED_KEPT)})
        await pipe.execute()
    await record_outcome(fake_redis, "q", "new", "success", at=FINISHED_KEPT + 1.0)
    page, total = await list_ids(fake_redis, "q", "complete", offset=0, limit=1)
    assert total == FINISHED_KEPT and page[0][0] == "new"
    assert await fake_redis.zscore(QueueKeys("q").finished("complete"), "old0") is None
