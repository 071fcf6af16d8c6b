"""The dashboard's overview of a queue of three shards: every shard counted, the pause seen."""

from __future__ import annotations

import httpx
import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.dashboard import create_app
from storage_jobs.jobs import DeleteJob
from storage_jobs.settings import Settings
from tests.dashboard.conftest import TOKEN

pytestmark = pytest.mark.integration


async def test_the_overview_counts_every_shard(e2e_redis_url: str, queue_name: str) -> None:
    settings = Settings(
        redis_url=e2e_redis_url,
        queue_name=queue_name,
        queue_shards=3,
        dashboard_token=TOKEN,
        dashboard_hosts=["app.test"],
    )
    async with StorageJobsClient(settings=settings) as jobs:
        handles = await jobs.enqueue_many(
            [DeleteJob(bucket="bkt", keys=[f"k{i}"]) for i in range(9)]
        )
        assert len({jobs.queue.layout.index(h.job_id) for h in handles}) > 1  # spread
        assert await jobs.pause_queue()
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as c:
        answer = await c.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
    await app.state.dashboard.close()
    assert answer.status_code == 200
    (queue,) = answer.json()["queues"]
    assert queue["paused"] is True
    assert queue["counts"]["ready"] == 9
