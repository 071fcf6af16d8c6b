"""Crashes, shutdowns and Redis outages: work survives them and nothing is lost."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, RedisServer, SeaweedFS
from storage_jobs.jobs import DeleteJob, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill
from tests.workers import StartInProcess, StartWorker, WorkerProcess

pytestmark = pytest.mark.integration


async def wait_for_event(
    workers: list[WorkerProcess], event: str, job_id: str, timeout: float = 30
) -> WorkerProcess:
    """Waits until one of the workers logs ``event`` for ``job_id``; returns that worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            if any(e.get("event") == event and e.get("job_id") == job_id for e in worker.events()):
                return worker
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {event} for {job_id} within {timeout} s")


async def test_sigkilled_worker_job_finishes_on_another(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """A worker SIGKILLed mid-delete: another takes the job within the lease, every key goes."""
    keys = [f"crash/{i:05d}" for i in range(6000)]
    await fill(seaweedfs, bucket, keys)
    fault_proxy.rules.latency_s = 0.6
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_DELETE_CONCURRENCY": "1",
    }
    first = start_worker(**env)
    second = start_worker(**env)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    runner = await wait_for_event([first, second], "job.start", handle.job_id)
    while len(fault_proxy.delete_batches) < 2:
        await asyncio.sleep(0.02)
    runner.kill()
    killed_at = time.monotonic()
    killed_wall = time.time()
    survivor = second if runner is first else first

    result = await handle.result(timeout=60)
    finished_at = time.monotonic()
    restarts = [
        e
        for e in survivor.events()
        if e.get("event") == "job.start" and e.get("job_id") == handle.job_id
    ]
    assert restarts and restarts[-1]["attempt"] == 2
    assert result.deleted_count == 6000 and result.failed == []
    assert await admin_storage.list_files(bucket=bucket, prefix="crash/") == []
    sent = [k for batch in fault_proxy.delete_batches for k in batch]
    # Batches answered before the crash are never sent again; at most the one in flight is.
    assert len(sent) <= 6000 + 1000
    assert set(sent) == set(keys)
    resumed = datetime.fromisoformat(restarts[-1]["timestamp"]).timestamp() - killed_wall
    assert resumed < 3 + 2  # one lease, plus the fallback poll
    print(
        f"crash recovery: resumed {resumed:.2f} s, finished {finished_at - killed_at:.2f} s "
        "after SIGKILL (lease 3 s)"
    )


async def test_sigterm_lets_the_running_job_finish(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """SIGTERM stops taking jobs but finishes the running one within the grace period."""
    keys = [f"term/{i:04d}" for i in range(3000)]
    await fill(seaweedfs, bucket, keys)
    fault_proxy.rules.latency_s = 0.5
    worker = start_worker(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_S3_DELETE_CONCURRENCY="1"
    )
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    await wait_for_event([worker], "job.start", handle.job_id)
    assert worker.stop(timeout=30) == 0
    assert (await handle.result(timeout=1)).deleted_count == 3000
    assert await handle.status() == JobStatus.COMPLETE


async def test_shutdown_past_grace_requeues_the_job(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """A job still running when the grace period ends is re-queued and finished by another."""
    keys = [f"grace/{i:04d}" for i in range(4000)]
    await fill(seaweedfs, bucket, keys)
    fault_proxy.rules.latency_s = 0.8
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_DELETE_CONCURRENCY": "1",
        "STORAGE_JOBS_SHUTDOWN_GRACE": "1",
    }
    first = start_worker(**env)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    await wait_for_event([first], "job.start", handle.job_id)
    first.stop(timeout=20)
    assert await handle.status() == JobStatus.QUEUED  # back on the queue, not lost
    second = start_worker(**env)
    result = await handle.result(timeout=60)
    assert result.deleted_count == 4000
    assert any(e.get("event") == "job.start" for e in second.events())


async def test_worker_rides_out_a_redis_outage(
    private_redis: RedisServer,  # first: set up before the worker, torn down after it
    start_in_process: StartInProcess,
    queue_name: str,
    bucket: str,
    admin_storage: StorageClient,
) -> None:
    """Redis gone for 12 s (past the client's own retries): the same worker takes jobs again."""
    url = private_redis.url
    worker = await start_in_process(STORAGE_JOBS_REDIS_URL=url)
    settings = Settings(redis_url=url, queue_name=queue_name)
    async with StorageJobsClient(settings=settings) as jobs:
        before = await jobs.enqueue(UploadJob(bucket=bucket, key="before", data=b"1"))
        await before.result(timeout=20)
    private_redis.stop()
    await asyncio.sleep(12)
    assert worker.running()
    private_redis.start()  # same port
    async with StorageJobsClient(settings=settings) as jobs:
        after = await jobs.enqueue(UploadJob(bucket=bucket, key="after", data=b"2"))
        assert (await after.result(timeout=30)).key == "after"
    assert worker.events("redis.unavailable") and worker.events("redis.recovered")
    assert await admin_storage.fetch_file(bucket=bucket, key="after") == b"2"
