"""Queue.finish against a real Redis (``lua/finish.lua``): arq's finish_job, a batch per call."""

from __future__ import annotations

import json
import time

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import Finish, Queue, QueueKeys

pytestmark = pytest.mark.integration


async def _running(redis: Redis, keys: QueueKeys, job_id: str) -> None:
    """A job as a worker holds it: queued, with its payload, try counter and lease."""
    await redis.zadd(keys.queue, {job_id: 1})
    await redis.set(keys.job(job_id), b"{}", px=60_000)
    await redis.set(keys.retry(job_id), 1, px=60_000)
    await redis.set(keys.in_progress(job_id), b"me", px=60_000)


async def test_one_call_finishes_a_batch(redis: Redis, queue: str) -> None:
    """50 jobs: one call stores all 50 results, clears the jobs and announces their ids."""
    q = Queue(redis, queue)
    ids = [f"{queue}-{i}" for i in range(50)]
    for job_id in ids:
        await _running(redis, q.keys, job_id)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(q.keys.done_channel)
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        items = [Finish(i, True, result_data=b'{"s":true}', result_ttl_ms=60_000) for i in ids]
        assert await q.finish(items) == 50
        message = await pubsub.get_message(timeout=1)
    assert message is not None and sorted(json.loads(message["data"])) == sorted(ids)
    assert await redis.zcard(q.keys.queue) == 0
    for job_id in ids:
        assert await redis.get(q.keys.result(job_id)) == b'{"s":true}'
        assert 0 < await redis.pttl(q.keys.result(job_id)) <= 60_000
        assert not await redis.exists(
            q.keys.job(job_id), q.keys.retry(job_id), q.keys.in_progress(job_id)
        )


async def test_each_outcome_joins_its_own_finished_index(redis: Redis, queue: str) -> None:
    """Complete, failed and cancelled jobs are listed apart; a retry is in none of them."""
    keys = QueueKeys(queue)
    outcomes = {"ok": "success", "bad": "failed", "stopped": "cancelled", "again": "retry"}
    for name in outcomes:
        await _running(redis, keys, f"{queue}-{name}")
    q = Queue(redis, queue)
    minute = int(time.time() // 60)
    await q.finish(
        [
            Finish(f"{queue}-{name}", outcome != "retry", b"{}", 60_000, outcome=outcome)  # type: ignore[arg-type]
            for name, outcome in outcomes.items()
        ],
        trim=True,
    )
    indexed = {
        state: [m.decode() for m in await redis.zrange(keys.finished(state), 0, -1)]
        for state in ("complete", "failed", "cancelled")
    }
    assert indexed == {
        "complete": [f"{queue}-ok"],
        "failed": [f"{queue}-bad"],
        "cancelled": [f"{queue}-stopped"],
    }
    minutes = range(minute, int(time.time() // 60) + 1)  # the finish may fall in the next one
    async with redis.pipeline(transaction=False) as pipe:
        for m in minutes:
            pipe.hget(keys.history(m), "cancelled")
        counted = await pipe.execute()
    assert sum(int(c or 0) for c in counted) == 1


async def test_a_retry_requeues_with_a_later_score_and_keeps_the_payload(
    redis: Redis, queue: str
) -> None:
    """finish=False: the lease goes, the payload and try counter stay, the score moves."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "r1")
    await Queue(redis, queue).finish([Finish("r1", False, incr_score=5000)])
    assert await redis.zscore(keys.queue, "r1") == 5001
    assert await redis.exists(keys.job("r1"), keys.retry("r1")) == 2
    assert not await redis.exists(keys.in_progress("r1"))
    assert not await redis.exists(keys.result("r1"))
    # An idle worker may be blocked past the retry's time: a token wakes it to learn when.
    assert await redis.lrange(keys.wake, 0, -1) == [b"1"]  # type: ignore[misc]


async def test_a_finish_that_requeues_nothing_pushes_no_wake_token(
    redis: Redis, queue: str
) -> None:
    keys = QueueKeys(queue)
    await _running(redis, keys, "f1")
    await Queue(redis, queue).finish([Finish("f1", True, result_data=b"{}")])
    assert not await redis.exists(keys.wake)


async def test_a_retry_of_a_claimed_job_gets_its_claim_score_back(redis: Redis, queue: str) -> None:
    """The claim moved the score to the lease's deadline; a retry's is claim score + delay."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "c1")
    await redis.zadd(keys.queue, {"c1": 10**13})  # the lease's deadline
    q = Queue(redis, queue)
    await q.finish([Finish("c1", False, incr_score=5000, score=1000)])
    assert await redis.zscore(keys.queue, "c1") == 6000
    await _running(redis, keys, "c2")
    await redis.zadd(keys.queue, {"c2": 10**13})
    await q.finish([Finish("c2", False, score=1000)])  # cancelled: due again at once
    assert await redis.zscore(keys.queue, "c2") == 1000


async def test_keep_in_progress_keeps_the_lease(redis: Redis, queue: str) -> None:
    """A kept lease is given the stated lifetime instead of being deleted."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "k1")
    await Queue(redis, queue).finish([Finish("k1", True, result_data=b"r", keep_lease_ms=2_000)])
    assert 0 < await redis.pttl(keys.in_progress("k1")) <= 2_000
    assert await redis.get(keys.result("k1")) == b"r"
    assert await redis.pttl(keys.result("k1")) == -1  # no ttl given: kept forever, like arq
