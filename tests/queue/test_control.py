"""Operator control against real Redis: the cancel script, pause flags, parking and resuming."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from typing import cast

import pytest
from redis.asyncio import Redis

from storage_jobs.errors import JobCancelledError
from storage_jobs.jobs import JobRejectedError, MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import (
    CANCELLED,
    HISTORY_TTL,
    Control,
    Enqueuer,
    JobStatus,
    NewJob,
    QueueKeys,
    RedisJobControl,
    read_history,
    read_outcome,
    read_status,
)

pytestmark = pytest.mark.integration


def upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


async def test_cancel_queued_and_deferred_jobs_finishes_them_at_once(
    redis: Redis, queue: str
) -> None:
    """Queued and deferred jobs leave the queue with a cancelled result; cancel is not repeated."""
    enq = Enqueuer(redis, queue, result_ttl=60)
    tag = uuid.uuid4().hex[:8]
    ids = [f"{tag}-now", f"{tag}-later"]
    await enq.enqueue([NewJob(upload(), ids[0]), NewJob(upload(), ids[1], defer_by=60)])
    control = Control(redis, queue, result_ttl=60)
    assert await control.cancel([*ids, f"{tag}-unknown"]) == [True, True, False]
    assert await control.cancel(ids) == [False, False]  # finished (as cancelled) now
    # The dashboard lists them under cancelled (never under failed).
    listed = await redis.zrange(QueueKeys(queue).finished("cancelled"), 0, -1)
    assert sorted(m.decode() for m in listed) == sorted(ids)
    assert not await redis.exists(QueueKeys(queue).finished("failed"))
    for job_id in ids:
        assert await read_status(redis, queue, job_id) == JobStatus.CANCELLED
        assert await redis.zscore(queue, job_id) is None
        assert not await redis.exists(QueueKeys.job(job_id))
        outcome = await read_outcome(redis, queue, job_id)
        assert outcome is not None and outcome.cancelled
        assert outcome.error.error_type == CANCELLED
        with pytest.raises(JobCancelledError):
            outcome.typed(job_id)
        # The marker outlives the job: a claim that meets the id again refuses it.
        assert 0 < await redis.pttl(QueueKeys.cancel(job_id)) <= 60_000


async def cancelled(redis: Redis, queue: str) -> int:
    """The cancelled outcomes the overview's chart shows for the last hour."""
    return sum(minute.cancelled for minute in await read_history(redis, queue))


async def test_each_cancel_of_a_waiting_job_counts_once_in_the_history(
    redis: Redis, queue: str
) -> None:
    """Queued (two lanes), deferred and parked jobs cancelled: one each in the chart, once."""
    enq = Enqueuer(redis, queue, result_ttl=60)
    tag = uuid.uuid4().hex[:8]
    ids = [f"{tag}-now", f"{tag}-later", f"{tag}-bulk"]
    await enq.enqueue(
        [
            NewJob(upload(), ids[0]),
            NewJob(upload(), ids[1], defer_by=60),
            NewJob(upload(), ids[2], priority="bulk"),
        ]
    )
    batch = batch_job_id(f"{tag}-mig", 0)
    await redis.zadd(QueueKeys.parked(f"{tag}-mig"), {batch: 1234})  # as the claim parks it
    ids.append(batch)
    control = Control(redis, queue, result_ttl=60)
    assert await control.cancel(ids) == [True] * 4
    assert await cancelled(redis, queue) == 4
    assert await control.cancel(ids) == [False] * 4
    assert await cancelled(redis, queue) == 4
    minute = int(time.time() // 60)  # it may have turned since the cancel: look at both
    ttls = [await redis.ttl(QueueKeys(queue).history(m)) for m in (minute, minute - 1)]
    assert any(0 < ttl <= HISTORY_TTL for ttl in ttls)


async def test_a_cancel_that_only_marks_a_running_job_counts_nothing_yet(
    redis: Redis, queue: str
) -> None:
    """A running job is counted when its worker finishes it, not when it is marked."""
    tag = uuid.uuid4().hex[:8]
    job_id = f"{tag}-running"
    await Enqueuer(redis, queue, result_ttl=60).enqueue([NewJob(upload(), job_id)])
    await redis.psetex(QueueKeys.in_progress(job_id), 10_000, "w1")
    assert await Control(redis, queue, result_ttl=60).cancel([job_id]) == [True]
    assert await cancelled(redis, queue) == 0


async def test_cancel_running_job_only_marks_it(redis: Redis, queue: str) -> None:
    """A job with a live lease keeps running (it stops at a safe point), marked cancelled."""
    job_id = f"run-{uuid.uuid4().hex[:8]}"
    await Enqueuer(redis, queue, result_ttl=60).enqueue([NewJob(upload(), job_id)])
    await redis.psetex(QueueKeys.in_progress(job_id), 10_000, "some-worker")
    control = Control(redis, queue, result_ttl=60)
    watcher = RedisJobControl(control, job_id)
    assert not await watcher.cancelled()
    assert await control.cancel([job_id]) == [True]
    assert await read_status(redis, queue, job_id) == JobStatus.IN_PROGRESS
    assert await redis.zscore(queue, job_id) is not None
    await asyncio.sleep(0.6)  # past the cached answer
    assert await watcher.cancelled()
    # A batch obeys its prefix job's marker.
    batch = RedisJobControl(control, batch_job_id(job_id, 3))
    assert await batch.cancelled()


async def test_cancel_finished_job_is_refused(redis: Redis, queue: str) -> None:
    """A job with a result is left alone: False, and its result unchanged."""
    job_id = f"done-{uuid.uuid4().hex[:8]}"
    await redis.set(QueueKeys.result(job_id), b'{"s":true,"r":{},"f":"storage_jobs.upload"}')
    assert await Control(redis, queue, result_ttl=60).cancel([job_id]) == [False]
    assert not await redis.exists(QueueKeys.cancel(job_id))
    assert await read_status(redis, queue, job_id) == JobStatus.COMPLETE


async def test_queue_pause_flag(redis: Redis, queue: str) -> None:
    """Pause and resume say whether they changed anything; resume wakes a worker."""
    control = Control(redis, queue, result_ttl=60)
    assert await control.pause_queue()
    assert not await control.pause_queue()
    assert await control.queue_paused()
    assert await control.resume_queue()
    assert not await control.resume_queue()
    assert not await control.queue_paused()
    assert await cast(Awaitable[int], redis.llen(QueueKeys(queue).wake)) == 1


async def test_pause_only_prefix_jobs_and_resume_puts_parked_batches_back(
    redis: Redis, queue: str
) -> None:
    """Only migrations and prefix deletes pause; resume re-queues parked batches, score kept."""
    enq = Enqueuer(redis, queue, result_ttl=60)
    tag = uuid.uuid4().hex[:8]
    mig = f"{tag}-mig"
    await enq.enqueue(
        [
            NewJob(upload(), f"{tag}-up"),
            NewJob(MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt"), mig),
        ]
    )
    control = Control(redis, queue, result_ttl=60)
    with pytest.raises(JobRejectedError, match="only migrations"):
        await control.pause_job(f"{tag}-up")
    assert not await control.pause_job(f"{tag}-unknown")
    assert await control.pause_job(mig)
    assert not await control.pause_job(mig)
    # A parked batch (as the claim parks it) reads as paused, then returns with its score.
    batch = batch_job_id(mig, 1)
    await redis.zadd(QueueKeys.parked(mig), {batch: 1234})
    assert await read_status(redis, queue, batch) == JobStatus.PAUSED
    assert await control.resume_job(mig)
    assert not await control.resume_job(mig)
    assert await redis.zscore(queue, batch) == 1234
    assert not await redis.exists(QueueKeys.parked(mig))
    # Cancelling a parked batch finishes it as well.
    assert await control.pause_job(mig)
    await redis.zrem(queue, batch)
    await redis.zadd(QueueKeys.parked(mig), {batch: 1234})
    assert await control.cancel([batch]) == [True]
    assert await read_status(redis, queue, batch) == JobStatus.CANCELLED


async def _pttls(redis: Redis, *keys: str) -> list[int]:
    async with redis.pipeline(transaction=True) as tx:  # read at one instant
        for key in keys:
            tx.pttl(key)
        return [int(t) for t in await tx.execute()]


async def test_marker_writers_keep_the_control_flag_alive(redis: Redis) -> None:
    """Cancel and pause set the queue's control flag to outlive their markers; it never shrinks.

    Without the flag the claim would run a marked job: the flag must not be unset early.
    """
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(queue)
    enq = Enqueuer(redis, queue, result_ttl=60)
    mig = f"{queue}-mig"
    await enq.enqueue(
        [
            NewJob(upload(), f"{queue}-a"),
            NewJob(MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt"), mig),
        ]
    )
    assert not await redis.exists(keys.control)
    assert await Control(redis, queue, 100).cancel([f"{queue}-a"]) == [True]
    flag, marker = await _pttls(redis, keys.control, keys.cancel(f"{queue}-a"))
    assert flag >= marker > 90_000
    # A shorter-lived marker written later leaves the longer flag alone.
    assert await Control(redis, queue, 10).pause_job(mig)
    flag, marker = await _pttls(redis, keys.control, keys.job_paused(mig))
    assert flag > 90_000 and 0 < marker <= 10_000
    # A longer one extends it.
    await redis.delete(keys.job_paused(mig))
    assert await Control(redis, queue, 500).pause_job(mig)
    flag, marker = await _pttls(redis, keys.control, keys.job_paused(mig))
    assert flag >= marker > 400_000
