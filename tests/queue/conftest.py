"""Fixtures of the queue's Redis-side tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.fixtures_redis import TestRedis


@pytest.fixture
async def redis(redis_server: TestRedis) -> AsyncIterator[Redis]:
    """The session's Redis, database 14 (each test on a queue of its own)."""
    client: Redis = Redis.from_url(redis_server.url(14))
    yield client
    await client.aclose()


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> str:
    """A queue of this test's own, named after its module."""
    return f"{request.module.__name__.rsplit('_', 1)[-1]}-{uuid.uuid4().hex[:10]}"
