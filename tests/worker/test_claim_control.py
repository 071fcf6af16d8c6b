"""The claim obeys the operator: cancelled jobs are taken only to be finished, paused ones wait."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import (
    Control,
    Enqueuer,
    JobStatus,
    NewJob,
    QueueKeys,
    finish_cancelled,
    read_status,
)
from storage_jobs.worker._leases import CANCELLED, Leases

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/12"
FAR = 2**50  # a "now" past every score


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_claim_finishes_a_marked_job_instead_of_running_it(redis: Redis) -> None:
    """A job marked while running (its worker then died) is claimed as CANCELLED, not run."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-job"
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
        [NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), job_id)]
    )
    await redis.psetex(QueueKeys.in_progress(job_id), 10_000, "dead-worker")
    assert await Control(redis, queue, 60).cancel([job_id]) == [True]
    await redis.delete(QueueKeys.in_progress(job_id))  # the dead worker's lease lapses
    leases = Leases(queue, "w2", 10)
    assert await leases.claim(redis, job_id, FAR) == CANCELLED
    assert await finish_cancelled(redis, queue, job_id, result_ttl=60) == "storage_jobs.upload"
    assert await read_status(redis, queue, job_id) == JobStatus.CANCELLED
    assert await leases.claim(redis, job_id, FAR) is None
    cancelled = QueueKeys(queue).finished("cancelled")
    assert await redis.zrange(cancelled, 0, -1) == [job_id.encode()]


async def test_claim_takes_nothing_while_the_queue_is_paused(redis: Redis) -> None:
    """Paused queue: the claim refuses; resumed: it takes the job."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-job"
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
        [NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), job_id)]
    )
    control = Control(redis, queue, 60)
    leases = Leases(queue, "w1", 10)
    await control.pause_queue()
    assert await leases.claim(redis, job_id, FAR) is None
    assert not await redis.exists(QueueKeys.in_progress(job_id))
    await control.resume_queue()
    assert (await leases.claim(redis, job_id, FAR) or 0) > 0


async def test_claim_parks_batches_of_a_paused_prefix_job(redis: Redis) -> None:
    """A paused migration's batch leaves the queue for the parked set; resume brings it back."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    mig = f"{queue}-mig"
    enq = Enqueuer(redis, queue, result_ttl=60)
    await enq.enqueue(
        [NewJob(MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt"), mig)]
    )
    batch = batch_job_id(mig, 1)
    await enq.enqueue([NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), batch)])
    score = await redis.zscore(queue, batch)
    control = Control(redis, queue, 60)
    assert await control.pause_job(mig)
    leases = Leases(queue, "w1", 10)
    assert await leases.claim(redis, batch, FAR) is None
    assert await redis.zscore(queue, batch) is None
    assert await redis.zscore(QueueKeys.parked(mig), batch) == score
    assert await read_status(redis, queue, batch) == JobStatus.PAUSED
    assert await control.resume_job(mig)
    assert await leases.claim(redis, batch, FAR) == int(score or 0)
