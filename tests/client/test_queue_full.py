"""A full Redis (maxmemory under noeviction): a clean error, no payload in it, no half job."""

from __future__ import annotations

import base64
import logging
import os
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer
from storage_jobs.errors import QueueFullError, StorageJobsError
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def small_redis_client(tmp_path: Path) -> AsyncIterator[StorageJobsClient]:
    """A client on a private redis-server with a 3 MB ``maxmemory`` (noeviction)."""
    with RedisServer(tmp_path / "redis", extra_args=("--maxmemory", "3mb")) as server:
        settings = Settings(redis_url=server.url, queue_name="full", max_inline_bytes=4096)
        async with StorageJobsClient(settings=settings) as client:
            yield client


def _everything_said(error: BaseException) -> str:
    """str, repr and the formatted traceback of an error and every error in its chain."""
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), *traceback.format_exception(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def test_enqueue_many_on_a_full_redis_raises_queue_full_without_payload(
    small_redis_client: StorageJobsClient, caplog: pytest.LogCaptureFixture
) -> None:
    """enqueue_many until Redis is full: QueueFullError, no payload anywhere, no half job."""
    jobs = small_redis_client
    assert jobs.eviction_policy is not None and jobs.eviction_policy.safe
    caplog.set_level(logging.DEBUG)
    data = [os.urandom(1024) for _ in range(200)]
    markers = [base64.b64encode(d).decode()[:40] for d in data]
    attempted: list[str] = []
    error: QueueFullError | None = None
    for round_ in range(100):
        ids = [f"job-{round_}-{i}" for i in range(len(data))]
        attempted += ids
        try:
            await jobs.enqueue_many(
                [UploadJob(bucket="bkt", key=f"k{i}", data=d) for i, d in enumerate(data)],
                job_ids=ids,
            )
        except QueueFullError as exc:
            error = exc
            break
    assert error is not None, "Redis never filled up"
    assert isinstance(error, StorageJobsError)
    assert error.__cause__ is None and error.__context__ is None
    said = _everything_said(error) + "\n".join(r.getMessage() for r in caplog.records)
    assert "OOM" in str(error)
    leaked = [m for m in markers if m in said]
    assert not leaked, f"payload bytes in the error or a log line: {leaked[:1]}"
    assert "EVALSHA" not in said

    # Each job is all or nothing: a payload exactly when a queue entry, and `enqueued` says which.
    keys = QueueKeys(jobs.queue_name)
    redis = jobs.redis
    queued = {m.decode() for m in await redis.zrange(keys.queue, 0, -1)}
    payloads = {i for i in attempted if await redis.exists(keys.job(i))}
    assert queued == payloads
    assert set(error.enqueued) <= queued
    last_round = [i for i in attempted if i.startswith(attempted[-1].rsplit("-", 1)[0] + "-")]
    assert set(error.enqueued) == queued & set(last_round)
    assert len(queued & set(last_round)) < len(last_round), "the failed call wrote every job"

    # A single enqueue is refused the same way. The big pipelined call's query buffer counted
    # towards maxmemory while Redis read it; freed, it may leave room: fill that first.
    # Down to small values: a 64 KiB filler refused can leave room for a 1 KiB job.
    for size in (65536, 4096, 256):
        for n in range(10_000):
            try:
                await redis.set(f"{jobs.queue_name}:filler:{size}:{n}", b"f" * size)
            except ResponseError:
                break
    with pytest.raises(QueueFullError) as single:
        await jobs.enqueue(UploadJob(bucket="bkt", key="one", data=data[0]), job_id="single")
    assert markers[0] not in _everything_said(single.value)
    assert not await redis.exists(keys.job("single"))
    assert await redis.zscore(keys.queue, "single") is None
