"""Fixtures for the client tests: the session's real Redis (fakeredis has no Lua without lupa).

Each test gets its own queue name in database 13 and removes every key it created.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings
from tests.fixtures_redis import TestRedis

CLIENT_DB = 13


@pytest.fixture
def settings(redis_server: TestRedis) -> Settings:
    """Explicit settings: Redis db 13, a queue of this test's own, small caps."""
    return Settings(
        redis_url=redis_server.url(CLIENT_DB),
        queue_name=f"sj-test-{uuid.uuid4().hex[:12]}",
        max_inline_bytes=1024,
        max_delete_keys=10_000,
        result_ttl=600,
    )


async def forget_queue(client: StorageJobsClient) -> None:
    """Deletes every key of the client's queue: its jobs' keys and the queue's own keys."""
    redis, keys = client.redis, QueueKeys(client.queue_name)
    ids = [i.decode() for i in await redis.zrange(client.queue_name, 0, -1)]
    ids += [i.decode() for i in await redis.zrange(keys.dead_index, 0, -1)]
    doomed = [k for i in ids for k in (keys.job(i), keys.result(i), keys.in_progress(i))]
    doomed += [k async for k in redis.scan_iter(match=f"*{client.queue_name}*", count=1000)]
    for start in range(0, len(doomed), 1000):
        await redis.delete(*doomed[start : start + 1000])


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[StorageJobsClient]:
    """A connected client (its first PING fails the test when Redis does not answer)."""
    client = StorageJobsClient(settings=settings)
    await client.connect()
    try:
        await client.redis.ping()
    except BaseException:
        await client.close()
        raise
    try:
        yield client
    finally:
        await forget_queue(client)
        await client.close()
