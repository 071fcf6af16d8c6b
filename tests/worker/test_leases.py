"""Leases stay bounded: a lost lease is remembered only while its job still runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import QueueKeys
from storage_jobs.worker._leases import Leases
from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration

FAR = 2**50  # a "now" past every score
JOBS = 1000


@pytest.fixture
async def redis(redis_server: TestRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url(11))
    yield client
    await client.aclose()


async def lose(redis: Redis, leases: Leases, queue: str, job_id: str) -> None:
    """Claims a job, then its lease goes while it runs (as arq's finish_failed_job deletes it)."""
    await redis.zadd(queue, {job_id: 1})
    assert [c.job_id for c in (await leases.claim(redis, 1, FAR)).run] == [job_id]
    await redis.delete(QueueKeys.in_progress(job_id))


async def test_jobs_that_end_without_finish_job_leave_no_lost_lease(redis: Redis) -> None:
    """1,000 jobs whose lease was found lost, then ended unfinished: ``lost`` ends empty.

    arq fails an expired, undecodable or over-tried job through ``finish_failed_job``, which
    deletes the lease but never reaches ``finish_job`` (where ``forget`` is called); a renewal
    in between marks it lost. Before the fix every such job stayed in ``lost`` for good (found
    by the soak run's probe: 138 after 13 minutes under CPU starvation).
    """
    queue = f"leases-{uuid.uuid4().hex[:8]}"
    leases = Leases(queue, "w1", 10)
    try:
        for n in range(JOBS):
            job_id = f"{queue}-{n}"
            await lose(redis, leases, queue, job_id)
            assert await leases.renew(redis, [job_id], FAR) == [job_id]
            await leases.renew(redis, [], FAR)  # the job's task ended: it is no longer running
        assert len(leases.lost) == 0
    finally:
        await redis.delete(queue, *(QueueKeys.in_progress(f"{queue}-{n}") for n in range(JOBS)))


async def test_a_lost_job_still_running_stays_lost_until_forgotten(redis: Redis) -> None:
    """The bound keeps what finish_job needs: a running job's loss is reported once, then kept."""
    queue = f"leases-{uuid.uuid4().hex[:8]}"
    leases = Leases(queue, "w1", 10)
    job_id, other = f"{queue}-a", f"{queue}-b"
    try:
        await lose(redis, leases, queue, job_id)
        await redis.zadd(queue, {other: 1})
        assert [c.job_id for c in (await leases.claim(redis, 1, FAR)).run] == [other]
        assert await leases.renew(redis, [job_id, other], FAR) == [job_id]
        assert await leases.renew(redis, [job_id, other], FAR) == []  # reported once
        assert leases.forget(job_id) is True
        assert leases.forget(other) is False
    finally:
        await redis.delete(queue, QueueKeys.in_progress(job_id), QueueKeys.in_progress(other))
