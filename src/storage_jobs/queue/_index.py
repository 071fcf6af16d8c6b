"""Paged job listings without scanning the keyspace: each list reads one sorted set's range.

Queued and deferred jobs come from the queue's sorted set (by run-at score), finished jobs from
the capped indexes the worker writes (``_history``), prefix jobs from the index their
coordinator writes when it starts, dead letters from their own index.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from ._keys import QueueKeys
from ._wire import peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "PREFIX_JOBS_KEPT",
    "ListedState",
    "index_prefix_job",
    "list_ids",
    "peek_functions",
    "prefix_job_ids",
]

PREFIX_JOBS_KEPT = 1000
"""Migrations and prefix deletes kept in the index (the oldest fall off)."""

ListedState = Literal["queued", "deferred", "complete", "failed", "cancelled", "dead"]
"""The job lists that have an index."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def list_ids(
    redis: Redis, queue_name: str, state: ListedState, *, offset: int, limit: int
) -> tuple[list[tuple[str, float]], int]:
    """One page of job ids in a state with their score (seconds), and the state's total.

    Queued jobs are by lane (high, normal, bulk) and oldest first in each (the order workers
    take them); deferred ones likewise, soonest first; finished jobs and dead letters newest
    first. Costs two commands (a queued or deferred page: two per lane).
    """
    keys = QueueKeys(queue_name)
    now_ms = int(time.time() * 1000)
    if state in ("queued", "deferred"):
        low, high = ("-inf", now_ms) if state == "queued" else (f"({now_ms}", "+inf")
        async with redis.pipeline(transaction=False) as pipe:
            for lane in keys.lanes:
                pipe.zcount(lane, low, high)
            counts = [int(c) for c in await pipe.execute()]
        page: list[tuple[str, float]] = []
        skip, want = offset, limit
        for lane, count in zip(keys.lanes, counts, strict=True):
            if want <= 0:
                break
            if skip >= count:
                skip -= count
                continue
            got = await redis.zrangebyscore(lane, low, high, start=skip, num=want, withscores=True)
            page += [(_text(m), float(s) / 1000.0) for m, s in got]
            skip, want = 0, limit - len(page)
        return page, sum(counts)
    async with redis.pipeline(transaction=False) as pipe:
        index = keys.dead_index if state == "dead" else keys.finished(state)
        pipe.zrevrange(index, offset, offset + limit - 1, withscores=True)
        pipe.zcard(index)
        members, total = await pipe.execute()
    return [(_text(m), float(s)) for m, s in members], int(total)


async def index_prefix_job(redis: Redis, queue_name: str, job_id: str) -> None:
    """Adds a migration or prefix delete to its queue's index (its first start time stays)."""
    index = QueueKeys(queue_name).prefix_jobs
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(index, {job_id: time.time()}, nx=True)
        pipe.zremrangebyrank(index, 0, -PREFIX_JOBS_KEPT - 1)
        await pipe.execute()


async def prefix_job_ids(
    redis: Redis, queue_name: str, *, offset: int, limit: int
) -> tuple[list[str], int]:
    """One page of prefix job ids, newest first, and how many the index holds."""
    index = QueueKeys(queue_name).prefix_jobs
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrevrange(index, offset, offset + limit - 1)
        pipe.zcard(index)
        members, total = await pipe.execute()
    return [_text(m) for m in members], int(total)


async def peek_functions(redis: Redis, job_ids: list[str], *, finished: bool) -> list[str | None]:
    """The function each job names, from the first bytes of its job (or its result) key.

    One pipelined ``GETRANGE`` per id: a multi-megabyte payload is never read whole.
    """
    if not job_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            key = QueueKeys.result(job_id) if finished else QueueKeys.job(job_id)
            pipe.getrange(key, 0, 255)
        heads: list[bytes] = await pipe.execute()
    return [peek_function(head) if head else None for head in heads]
