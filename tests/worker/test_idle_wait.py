"""An idle worker blocks on the wake list until the soonest job its empty claim saw is due.

What the empty claim says (the soonest score, a lease's deadline) is tested on ``Queue.claim``
in ``tests/queue/test_claim.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq.utils import timestamp_ms
from redis.asyncio import Redis

from storage_jobs.jobs import UploadJob
from storage_jobs.queue import (
    IDLE_WAIT_MAX_S,
    Enqueuer,
    NewJob,
    Priority,
    QueueKeys,
    idle_wait,
    push_wake,
    wait_for_wake,
)
from storage_jobs.settings import Settings
from storage_jobs.worker import build_worker

pytestmark = pytest.mark.integration

NOW = 1_700_000_000_000  # ms: the claims' clock, fixed


async def _enqueue(
    redis: Redis, queue: str, name: str, at_ms: int, lane: Priority = "normal"
) -> str:
    """Enqueues an upload, then sets its score to ``at_ms`` (the claims' clock is fixed)."""
    job_id = f"{queue}-{name}"
    job = NewJob(UploadJob(bucket="bkt", key=name, data=b"x"), job_id, priority=lane)
    await Enqueuer(redis, queue, result_ttl=60).enqueue([job])
    assert await redis.zadd(QueueKeys(queue).lane(lane), {job_id: at_ms}, xx=True, ch=True) == 1
    return job_id


def test_idle_wait_follows_the_soonest_score_within_its_bounds() -> None:
    assert idle_wait(None, NOW, 1.0) == IDLE_WAIT_MAX_S
    assert idle_wait(NOW + 1_500, NOW, 1.0) == 1.5
    assert idle_wait(NOW + 60_000, NOW, 1.0) == IDLE_WAIT_MAX_S
    # Due but not taken (held by a worker that moves no scores): the usual poll delay.
    assert idle_wait(NOW, NOW, 1.0) == 1.0
    assert idle_wait(NOW + 1, NOW, 1.0) > 0  # never 0: BLPOP would block for good
    # STORAGE_JOBS_IDLE_WAIT_MAX bounds every wait.
    assert idle_wait(None, NOW, 1.0, 0.5) == idle_wait(NOW + 9_000, NOW, 1.0, 0.5) == 0.5
    assert idle_wait(NOW, NOW, 1.0, 0.5) == 0.5


async def test_the_worker_blocks_until_the_deferred_job_is_due(redis: Redis, queue: str) -> None:
    worker = build_worker(Settings(queue_name=queue, max_jobs=4))
    worker._pool = redis
    await worker._poll_once()
    assert worker._wait_s == IDLE_WAIT_MAX_S  # nothing queued
    tuned = build_worker(Settings(queue_name=queue, max_jobs=4, idle_wait_max=0.25))
    tuned._pool = redis
    await tuned._poll_once()
    assert tuned._wait_s == 0.25

    due = timestamp_ms() + 2_000
    await _enqueue(redis, queue, "deferred", due)
    await worker._poll_once()
    assert 1.5 < worker._wait_s <= 2.0  # until it is due, not the 5 s cap

    # A wake token (pushed with every job that is due now) ends the wait at once.
    wake = QueueKeys(queue).wake
    await redis.delete(wake)
    assert not await wait_for_wake(redis, wake, 0.05)
    async with redis.pipeline(transaction=True) as tx:
        push_wake(tx, wake)
        await tx.execute()
    assert await wait_for_wake(redis, wake, worker._wait_s)


async def test_a_claim_cut_short_by_an_enqueue_is_followed_by_another_at_once(
    redis: Redis, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each claim call met a job written under it and took nothing: the lanes are not empty.

    The worker claims again without blocking on the wake list (even with no token there), and
    a burst worker does not stop there: an empty claim that missed says nothing of the lanes.
    """
    await _enqueue(redis, queue, "old", NOW)
    worker = build_worker(Settings(queue_name=queue, max_jobs=4), burst=True)
    worker._pool = redis
    script = worker.queue.scripts.claim
    calls = 0

    async def newer_job_first(**call: Any) -> Any:
        nonlocal calls
        calls += 1
        # Ids sorting ever earlier at the lowest score: each call meets one it was not told of.
        await _enqueue(redis, queue, f"new{10 - calls}", 1)
        return await script(**call)

    monkeypatch.setattr(worker.queue.scripts, "claim", newer_job_first)
    await worker._poll_once()
    await redis.delete(QueueKeys(queue).wake)  # the token each write pushed
    assert worker._last_claim is not None
    claim, _ = worker._last_claim
    assert len(claim) == 0 and claim.missed and calls > 1
    assert not worker._burst_done()
    await asyncio.wait_for(worker._wait_for_work(), 0.5)  # not the idle wait (5 s)
