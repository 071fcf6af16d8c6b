"""Paged job listings without scanning the keyspace: each list reads one sorted set's range.

Queued and deferred jobs come from the lanes' sorted sets (by run-at score; running jobs are left
out, ``_running``), finished jobs from the capped indexes the worker writes (``_history``), prefix
jobs from the index their coordinator writes when it starts, dead letters from their own index.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from ._keys import QueueKeys
from ._running import LEASES_CHECKED, read_sides
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
    redis: Redis,
    queue_name: str,
    state: ListedState,
    *,
    offset: int,
    limit: int,
    leases_checked: int = LEASES_CHECKED,
) -> tuple[list[tuple[str, float]], int]:
    """One page of job ids in a state with their score (seconds), and the state's total.

    Queued jobs are by lane (high, normal, bulk) and oldest first in each (the order workers
    take them); deferred ones likewise, soonest first; finished jobs and dead letters newest
    first. A running job is neither queued nor deferred (``_running``): the first
    ``leases_checked`` ids of each lane's side are checked for a lease, and the totals are
    those of ``queue_depth`` with the same limit. A queued or deferred page costs three round
    trips (the sides, their leases, one range per lane read); any other page one.
    """
    keys = QueueKeys(queue_name)
    if state in ("queued", "deferred"):
        sides = await read_sides(
            redis,
            keys.lanes,
            ("due" if state == "queued" else "later",),
            now_ms=int(time.time() * 1000),
            check=leases_checked,
        )
        page: list[tuple[str, float]] = []
        skip, want = offset, limit
        for side in sides:
            if want <= 0:
                break
            if skip >= side.waiting:
                skip -= side.waiting
                continue
            page += [
                (job_id, score / 1000.0) for job_id, score in await side.page(redis, skip, want)
            ]
            skip, want = 0, limit - len(page)
        return page, sum(side.waiting for side in sides)
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
