"""Queue's other methods on a real Redis: enqueue, attempts, wake-ups, reads, dead letters.

The enqueue and progress scripts (``lua/enqueue.lua``, ``lua/progress_*.lua``) run here.

Claims and renewals are in ``test_claim.py``, finishes in ``test_finish.py``, lanes in
``test_lanes.py``, cancel and pause in ``test_control.py``, rate limits in ``test_rate_limit.py``.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import JobLimits, UploadJob
from storage_jobs.queue import (
    ATTEMPTS_TTL_S,
    ErrorRecord,
    Finish,
    JobStatus,
    NewJob,
    Queue,
    build_result,
)

pytestmark = pytest.mark.integration

FAR = 2**50


def _upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


async def test_enqueue_many_adds_each_id_once_and_wakes_a_worker(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue, result_ttl=60)
    a, b = f"{queue}-a", f"{queue}-b"
    answers = await q.enqueue_many([NewJob(_upload(), a), NewJob(_upload(), b, priority="high")])
    assert answers == [(a, True), (b, True)]
    assert await q.enqueue_many([NewJob(_upload(), a)]) == [(a, False)]  # the id is taken
    assert await redis.zscore(q.keys.queue, a) is not None
    assert await redis.zscore(q.keys.lane("high"), b) is not None
    assert await q.wait_for_wake(0.01)  # the enqueue pushed a token
    assert not await q.wait_for_wake(0.01)  # trimmed to one: a burst wakes one worker
    await q.push_wake()
    assert await q.wait_for_wake(0.01)


async def test_set_attempts_writes_arqs_counter_with_its_lifetime(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue)
    await q.set_attempts(f"{queue}-j", 3)
    assert await redis.get(q.keys.retry(f"{queue}-j")) == b"3"
    assert ATTEMPTS_TTL_S - 5 < await redis.ttl(q.keys.retry(f"{queue}-j")) <= ATTEMPTS_TTL_S


async def test_a_claim_needs_a_worker(redis: Redis, queue: str) -> None:
    with pytest.raises(RuntimeError, match="worker_id"):
        await Queue(redis, queue).claim(1, FAR)


async def test_status_and_result_follow_a_job_through_its_life(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue, worker_id="w1", lease_seconds=10)
    job_id = f"{queue}-j"
    assert await q.status(job_id) == JobStatus.NOT_FOUND
    await q.enqueue_many([NewJob(_upload(), job_id)])
    assert await q.status(job_id) == JobStatus.QUEUED
    await q.claim(1, FAR)
    assert await q.status(job_id) == JobStatus.IN_PROGRESS
    assert await q.lease_holder(job_id) == "w1"
    assert await q.result(job_id) is None
    result = build_result(
        job_id=job_id,
        queue=queue,
        function="storage_jobs.upload",
        tries=1,
        enqueue_ms=1,
        start_ms=2,
        finish_ms=3,
        error=ErrorRecord(error_type="JobFailed", message="boom"),
    )
    await q.finish([Finish(job_id, True, result_data=result, outcome="failed")])
    assert await q.status(job_id) == JobStatus.FAILED
    outcome = await q.result(job_id)
    assert outcome is not None and not outcome.success
    assert outcome.error.message == "boom"


async def test_a_dead_letter_is_kept_and_replayed_into_its_lane(redis: Redis, queue: str) -> None:
    q = Queue(redis, queue, result_ttl=60)
    job_id = f"{queue}-d"
    await q.dead_letters.add(
        job_id=job_id,
        function="storage_jobs.upload",
        raw_payload=_upload().model_dump_json().encode(),
        error_type="JobFailed",
        message="boom",
        priority="bulk",
    )
    assert await q.status(job_id) == JobStatus.FAILED
    assert [d.job_id for d in await q.dead_letters.list()] == [job_id]
    assert await q.dead_letters.replay(job_id, limits=JobLimits(), result_ttl=60)
    assert await redis.zscore(q.keys.lane("bulk"), job_id) is not None


async def test_progress_scripts_count_each_key_batch_and_step_once(
    redis: Redis, queue: str
) -> None:
    """A re-run after a crash records nothing twice; the failure threshold stops the job."""
    q = Queue(redis, queue)
    store = q.progress(f"{queue}-mig")
    assert await store.record_key(0, 3, "done", 10, "k3 copied")
    assert not await store.record_key(0, 3, "done", 10, "k3 copied")  # its bit is set
    assert await store.record_key(0, 4, "failed", 0, "k4 failed", threshold=(0.1, 2))
    assert await store.stop_reason() == "failure_threshold"
    assert await store.finish_batch(0, done=1, failed=1, lines=["batch 0"])
    assert not await store.finish_batch(0, done=1, failed=1, lines=["batch 0"])
    assert await store.record_step("report", counter="done", count=2, lines=["step"])
    assert not await store.record_step("report", counter="done", count=2)
    progress = await store.read()
    assert (progress.done, progress.failed, progress.batches_done) == (4, 2, 1)
    assert await store.recorded(0, 8) == {3, 4}
    lines = [line async for chunk in store.iter_records() for line in chunk]
    assert lines == [b"k3 copied", b"k4 failed", b"batch 0", b"step"]
    assert await redis.ttl(store.done_bits(0)) > 0  # the bitmap expires with the state
