"""Batched finishes: one script call per batch, arq's semantics per job, retried until durable."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from storage_jobs.queue import QueueKeys
from storage_jobs.worker._finisher import Finish, Finisher

pytestmark = pytest.mark.integration


async def _running(redis: Redis, keys: QueueKeys, job_id: str) -> None:
    """A job as a worker holds it: queued, with its payload, try counter and lease."""
    await redis.zadd(keys.queue, {job_id: 1})
    await redis.set(keys.job(job_id), b"{}", px=60_000)
    await redis.set(keys.retry(job_id), 1, px=60_000)
    await redis.set(keys.in_progress(job_id), b"me", px=60_000)


class CountingRedis:
    """Hands out the real connection, counting script calls (EVALSHA through it)."""

    def __init__(self, redis: Redis, fail_first: int = 0, error: Exception | None = None) -> None:
        self.redis = redis
        self.calls = 0
        self.fail_first = fail_first
        self.error = error or RedisConnectionError("down")

    def __call__(self) -> Any:
        return self

    def register_script(self, script: str) -> Any:
        real = self.redis.register_script(script)

        async def call(*, keys: list[str], args: list[Any], client: Any) -> Any:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise self.error
            return await real(keys=keys, args=args, client=self.redis)

        return call


async def test_finishes_of_one_tick_go_out_in_one_call(redis: Redis, queue: str) -> None:
    """50 jobs finishing together: one script call stores all 50 results and clears the jobs."""
    keys = QueueKeys(queue)
    ids = [f"{queue}-{i}" for i in range(50)]
    for job_id in ids:
        await _running(redis, keys, job_id)
    counting = CountingRedis(redis)
    finisher = Finisher(counting, queue)
    await asyncio.gather(
        *(
            finisher.finish(Finish(i, True, result_data=b'{"s":true}', result_ttl_ms=60_000))
            for i in ids
        )
    )
    assert counting.calls == 1
    assert await redis.zcard(keys.queue) == 0
    for job_id in ids:
        assert await redis.get(keys.result(job_id)) == b'{"s":true}'
        assert 0 < await redis.pttl(keys.result(job_id)) <= 60_000
        assert not await redis.exists(
            keys.job(job_id), keys.retry(job_id), keys.in_progress(job_id)
        )


async def test_each_outcome_joins_its_own_finished_index(redis: Redis, queue: str) -> None:
    """Complete, failed and cancelled jobs are listed apart; a retry is in none of them."""
    keys = QueueKeys(queue)
    outcomes = {"ok": "success", "bad": "failed", "stopped": "cancelled", "again": "retry"}
    for name in outcomes:
        await _running(redis, keys, f"{queue}-{name}")
    finisher = Finisher(lambda: redis, queue)
    minute = int(time.time() // 60)
    await asyncio.gather(
        *(
            finisher.finish(
                Finish(f"{queue}-{name}", outcome != "retry", b"{}", 60_000, outcome=outcome)  # type: ignore[arg-type]
            )
            for name, outcome in outcomes.items()
        )
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
    await Finisher(lambda: redis, queue).finish(Finish("r1", False, incr_score=5000))
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
    await Finisher(lambda: redis, queue).finish(Finish("f1", True, result_data=b"{}"))
    assert not await redis.exists(keys.wake)


async def test_a_retry_of_a_claimed_job_gets_its_claim_score_back(redis: Redis, queue: str) -> None:
    """The claim moved the score to the lease's deadline; a retry's is claim score + delay."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "c1")
    await redis.zadd(keys.queue, {"c1": 10**13})  # the lease's deadline
    finisher = Finisher(lambda: redis, queue)
    await finisher.finish(Finish("c1", False, incr_score=5000, score=1000))
    assert await redis.zscore(keys.queue, "c1") == 6000
    await _running(redis, keys, "c2")
    await redis.zadd(keys.queue, {"c2": 10**13})
    await finisher.finish(Finish("c2", False, score=1000))  # cancelled: due again at once
    assert await redis.zscore(keys.queue, "c2") == 1000


async def test_keep_in_progress_keeps_the_lease(redis: Redis, queue: str) -> None:
    """A kept lease is given the stated lifetime instead of being deleted."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "k1")
    await Finisher(lambda: redis, queue).finish(
        Finish("k1", True, result_data=b"r", keep_lease_ms=2_000)
    )
    assert 0 < await redis.pttl(keys.in_progress("k1")) <= 2_000
    assert await redis.get(keys.result("k1")) == b"r"
    assert await redis.pttl(keys.result("k1")) == -1  # no ttl given: kept forever, like arq


async def test_a_failed_write_is_retried_until_durable(redis: Redis, queue: str) -> None:
    """Redis down twice: the finish waits, retries, and returns only once the result is stored."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "w1")
    counting = CountingRedis(redis, fail_first=2)
    retries: list[int] = []
    finisher = Finisher(counting, queue, on_retry=lambda exc, n, delay: retries.append(n))
    await finisher.finish(Finish("w1", True, result_data=b"r", result_ttl_ms=60_000))
    assert counting.calls == 3
    assert retries == [1, 1]
    assert await redis.get(keys.result("w1")) == b"r"


async def test_an_out_of_memory_answer_is_retried(redis: Redis, queue: str) -> None:
    """OOM is worth waiting out (memory frees); the write goes through on the next attempt."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "o1")
    oom = ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    counting = CountingRedis(redis, fail_first=1, error=oom)
    await Finisher(counting, queue).finish(Finish("o1", True, result_data=b"r"))
    assert counting.calls == 2
    assert await redis.get(keys.result("o1")) == b"r"


async def test_a_script_bug_is_raised_not_retried_forever(redis: Redis, queue: str) -> None:
    """Another error answer is a bug: every finish of the batch raises it."""
    counting = CountingRedis(redis, fail_first=5, error=ResponseError("ERR bad script"))
    with pytest.raises(ResponseError, match="bad script"):
        await Finisher(counting, queue).finish(Finish("b1", True, result_data=b"r"))
    assert counting.calls == 1
