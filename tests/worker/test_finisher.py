"""Batched finishes: one Queue.finish call per batch of finishes, retried until durable.

What one finish writes (arq's semantics per job) is tested on ``Queue.finish`` in
``tests/queue/test_finish.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from storage_jobs.queue import Queue, QueueKeys
from storage_jobs.queue._scripts import script_text
from storage_jobs.worker._finisher import Finish, Finisher

pytestmark = pytest.mark.integration


async def _running(redis: Redis, keys: QueueKeys, job_id: str) -> None:
    """A job as a worker holds it: queued, with its payload, try counter and lease."""
    await redis.zadd(keys.queue, {job_id: 1})
    await redis.set(keys.job(job_id), b"{}", px=60_000)
    await redis.set(keys.retry(job_id), 1, px=60_000)
    await redis.set(keys.in_progress(job_id), b"me", px=60_000)


@pytest.fixture(autouse=True)
async def _finish_script_loaded(redis: Redis) -> None:
    # The counts below are of the finisher's own calls: on a server that has not seen the script
    # yet (a fresh one, or after SCRIPT FLUSH) redis-py's NOSCRIPT reload would add one.
    await redis.script_load(script_text("finish"))


class CountingRedis:
    """The real connection, counting script calls (``EVALSHA``) and failing the first few."""

    def __init__(self, redis: Redis, fail_first: int = 0, error: Exception | None = None) -> None:
        self.redis = redis
        self.calls = 0
        self.fail_first = fail_first
        self.error = error or RedisConnectionError("down")

    def queue(self, name: str) -> Callable[[], Queue]:
        """The worker's ``Queue`` on this connection, as the finisher is given it."""
        queue = Queue(cast(Redis, self), name)
        return lambda: queue

    def register_script(self, script: str) -> Any:
        return self.redis.register_script(script)

    async def evalsha(self, *args: Any) -> Any:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise self.error
        return await cast(Awaitable[Any], self.redis.evalsha(*args))

    async def script_load(self, script: str) -> Any:
        return await self.redis.script_load(script)

    def pipeline(self, transaction: bool = True) -> CountingPipeline:
        return CountingPipeline(self, self.redis.pipeline(transaction=transaction))


class CountingPipeline:
    """A pipeline of ``CountingRedis``: its ``EVALSHA`` calls counted, failed as the first few."""

    def __init__(self, counting: CountingRedis, pipe: Any) -> None:
        self.counting = counting
        self.pipe = pipe
        self.failing = False

    async def __aenter__(self) -> CountingPipeline:
        await self.pipe.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pipe.__aexit__(*exc)

    def execute_command(self, *args: Any, **kwargs: Any) -> CountingPipeline:
        if args[0] == "EVALSHA":
            self.counting.calls += 1
            self.failing = self.failing or self.counting.calls <= self.counting.fail_first
        self.pipe.execute_command(*args, **kwargs)
        return self

    async def execute(self, raise_on_error: bool = True) -> Any:
        if self.failing:
            raise self.counting.error
        return await self.pipe.execute(raise_on_error=raise_on_error)


async def test_finishes_of_one_tick_go_out_in_one_call(redis: Redis, queue: str) -> None:
    """50 jobs finishing together: one script call stores all 50 results and clears the jobs."""
    keys = QueueKeys(queue)
    ids = [f"{queue}-{i}" for i in range(50)]
    for job_id in ids:
        await _running(redis, keys, job_id)
    counting = CountingRedis(redis)
    finisher = Finisher(counting.queue(queue))
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


async def test_a_failed_write_is_retried_until_durable(redis: Redis, queue: str) -> None:
    """Redis down twice: the finish waits, retries, and returns only once the result is stored."""
    keys = QueueKeys(queue)
    await _running(redis, keys, "w1")
    counting = CountingRedis(redis, fail_first=2)
    retries: list[int] = []
    finisher = Finisher(counting.queue(queue), on_retry=lambda exc, n, delay: retries.append(n))
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
    await Finisher(counting.queue(queue)).finish(Finish("o1", True, result_data=b"r"))
    assert counting.calls == 2
    assert await redis.get(keys.result("o1")) == b"r"


async def test_a_script_bug_is_raised_not_retried_forever(redis: Redis, queue: str) -> None:
    """Another error answer is a bug: every finish of the batch raises it."""
    counting = CountingRedis(redis, fail_first=5, error=ResponseError("ERR bad script"))
    with pytest.raises(ResponseError, match="bad script"):
        await Finisher(counting.queue(queue)).finish(Finish("b1", True, result_data=b"r"))
    assert counting.calls == 1
