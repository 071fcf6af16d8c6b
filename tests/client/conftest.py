"""Fixtures for the client tests: the local Redis (fakeredis has no Lua without lupa).

Each test gets its own queue name in database 13 and removes every key it created.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from storage_jobs.client import StorageJobsClient
from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def settings() -> Settings:
    """Explicit settings: local Redis db 13, a queue of this test's own, small caps."""
    return Settings(
        redis_url=REDIS_URL,
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
    """A connected client; skips when no Redis listens on 127.0.0.1:6379."""
    client = StorageJobsClient(settings=settings)
    await client.connect()
    try:
        await client.redis.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.close()
        pytest.skip(f"no local Redis for the client tests: {exc}")
    try:
        yield client
    finally:
        await forget_queue(client)
        await client.close()
