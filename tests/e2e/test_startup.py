"""Worker startup: a worker started before Redis is up waits for it, then runs jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

# arq's own connect retries (5 x 1 s) end well before this; only our wait outlasts it.
REDIS_DOWN_S = 8.0


async def test_worker_started_before_redis_runs_a_job_once_it_is_up(
    tmp_path: Path,
    worker_env: dict[str, str],
    queue_name: str,
    bucket: str,
    admin_storage: StorageClient,
) -> None:
    """Redis comes up 8 s after the worker: the same worker process then runs a job."""
    server = RedisServer(tmp_path / "redis")  # a free port, nothing listening on it yet
    env = {**worker_env, "STORAGE_JOBS_REDIS_URL": server.url}
    worker = WorkerProcess(env, tmp_path / "worker.log", ready_event="redis.unavailable")
    started = time.monotonic()
    worker.start()
    try:
        await asyncio.sleep(max(0.0, started + REDIS_DOWN_S - time.monotonic()))
        assert worker.running(), worker.log_path.read_text()[-3000:]
        assert not any(e.get("event") == "worker.started" for e in worker.events())
        server.start()
        try:
            settings = Settings(redis_url=server.url, queue_name=queue_name)
            async with StorageJobsClient(settings=settings) as jobs:
                handle = await jobs.enqueue(UploadJob(bucket=bucket, key="late", data=b"up"))
                assert (await handle.result(timeout=30)).size == 2
        finally:
            assert worker.stop() == 0
            server.stop()
    finally:
        worker.stop()
    assert await admin_storage.fetch_file(bucket=bucket, key="late") == b"up"
    events = [e.get("event") for e in worker.events()]
    assert events.index("redis.unavailable") < events.index("worker.started")
    assert events.count("worker.started") == 1  # one process all along, no restart
