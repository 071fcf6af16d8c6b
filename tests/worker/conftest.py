"""Fixtures of the worker's Redis-side tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.settings import Settings
from tests.fixtures_redis import TestRedis


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> str:
    """A queue of this test's own, named after its module."""
    return f"{request.module.__name__.rsplit('_', 1)[-1]}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(redis_server: TestRedis, moto_endpoint: str, queue: str) -> Settings:
    """A worker's settings on this test's queue, storing in moto."""
    return Settings(
        redis_url=redis_server.url(14),
        queue_name=queue,
        s3_endpoint_url=moto_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing-secret",
        max_jobs=4,
        lease_seconds=3,
        health_check_interval=1,
        retry_base_delay=0.1,
        retry_max_delay=0.2,
    )


@pytest.fixture
async def jobs(settings: Settings) -> AsyncIterator[StorageJobsClient]:
    """A producer on the test's queue."""
    async with StorageJobsClient(settings=settings) as client:
        yield client
