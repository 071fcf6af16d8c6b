"""A queued job's payload outlives a backlog, whatever the result TTL."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import UploadJob
from storage_jobs.queue import Enqueuer, NewJob, QueueKeys
from storage_jobs.queue._enqueue import QUEUED_JOB_MIN_TTL

pytestmark = pytest.mark.integration


async def test_a_short_result_ttl_does_not_expire_queued_jobs(redis: Redis) -> None:
    """With results kept 20 s, a queued job still lives a week.

    Found by the soak: jobs queued longer than the result TTL expired unrun (a lost job).
    """
    queue = f"ttl-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-a"
    try:
        await Enqueuer(redis, queue, result_ttl=20).enqueue(
            [NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), job_id)]
        )
        ttl_ms = await redis.pttl(QueueKeys.job(job_id))
        assert ttl_ms > (QUEUED_JOB_MIN_TTL - 60) * 1000
    finally:
        await redis.delete(queue, QueueKeys.job(job_id))


async def test_a_long_result_ttl_still_sets_the_job_key_lifetime(redis: Redis) -> None:
    """Results kept 30 days: the queued payload lives as long as that, not just the floor."""
    queue = f"ttl-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-a"
    month = 30 * 24 * 3600
    try:
        await Enqueuer(redis, queue, result_ttl=month).enqueue(
            [NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), job_id)]
        )
        assert await redis.pttl(QueueKeys.job(job_id)) > (month - 60) * 1000
    finally:
        await redis.delete(queue, QueueKeys.job(job_id))
