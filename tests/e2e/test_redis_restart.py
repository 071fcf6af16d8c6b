"""Redis restarts with an AOF: queued, deferred and running jobs survive and finish."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, RedisServer, SeaweedFS
from storage_jobs.jobs import CopyJob, DeleteJob, DeleteResult, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import DELETE_BATCH_SIZE, StorageClient
from tests.fixtures_e2e import fill
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server whose AOF is fsynced on every write."""
    server = RedisServer(
        tmp_path / "redis", appendonly=True, extra_args=("--appendfsync", "always")
    )
    server.start()
    yield server
    server.stop()


async def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


async def test_jobs_survive_a_redis_restart(
    aof_redis: RedisServer,
    start_worker: StartWorker,
    fault_proxy: FaultProxy,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    queue_name: str,
) -> None:
    """Redis SIGKILLed, restarted from its AOF: running workers finish every job.

    SIGKILL, not SHUTDOWN: a killed server writes nothing on its way out, so what survives is
    what the AOF held at each write (``appendfsync always``); SHUTDOWN loses no more.
    """
    delete_keys = [[f"del{n}/{i:05d}" for i in range(3000)] for n in range(2)]
    await fill(seaweedfs, bucket, [k for keys in delete_keys for k in keys])
    await admin_storage.upload_file(bucket=bucket, key="src", data=b"copy me")
    # Slow DeleteObjects only: each 1,000-key batch takes about a second.
    fault_proxy.rules.latency_s = 1.0
    fault_proxy.rules.methods = frozenset({"POST"})
    env = {
        "STORAGE_JOBS_REDIS_URL": aof_redis.url,
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_DELETE_CONCURRENCY": "1",
        "STORAGE_JOBS_MAX_JOBS": "1",  # busy with a delete, a worker leaves the rest queued
        "STORAGE_JOBS_LEASE_SECONDS": "5",
    }
    workers = [start_worker(**env), start_worker(**env)]
    settings = Settings(redis_url=aof_redis.url, queue_name=queue_name)
    async with StorageJobsClient(settings=settings) as jobs:
        deletes = [
            await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys), job_id=f"delete-{n}")
            for n, keys in enumerate(delete_keys)
        ]

        def both_running() -> bool:
            starts = [e for w in workers for e in w.events() if e.get("event") == "job.start"]
            return len(starts) >= 2

        await _wait_for(both_running, 30, "start of both deletes")

        def two_batches_each() -> bool:
            firsts = [batch[0][:4] for batch in list(fault_proxy.delete_batches) if batch]
            return all(firsts.count(f"del{n}") >= 2 for n in range(len(delete_keys)))

        # The first batch of each delete is answered and recorded, the second one in flight.
        await _wait_for(two_batches_each, 30, "second batches")
        ready = await jobs.enqueue_many(
            [
                UploadJob(bucket=bucket, key=f"ready/{i}", data=f"ready {i}".encode())
                for i in range(5)
            ]
            + [CopyJob(src_bucket=bucket, src_key="src", dst_key="ready/copy")]
        )
        deferred = await jobs.enqueue_many(
            [
                UploadJob(bucket=bucket, key=f"later/{i}", data=f"later {i}".encode())
                for i in range(5)
            ],
            defer_by=8,
        )
        assert {await h.status() for h in deletes} == {JobStatus.IN_PROGRESS}
        assert {await h.status() for h in ready} == {JobStatus.QUEUED}
        assert {await h.status() for h in deferred} == {JobStatus.DEFERRED}

        # -- the restart: same port, same dir ---------------------------------------------------
        assert aof_redis.proc is not None
        os.killpg(aof_redis.proc.pid, signal.SIGKILL)
        aof_redis.proc.wait(10)
        aof_redis.proc = None
        await asyncio.sleep(2)
        aof_redis.start()

        # Nothing was lost: every job is where it was (or already done by now).
        for handle in [*deletes, *ready, *deferred]:
            assert await handle.status() != JobStatus.NOT_FOUND, handle.job_id

        results = [await h.result(timeout=90) for h in deletes]
        for result, keys in zip(results, delete_keys, strict=True):
            assert isinstance(result, DeleteResult)
            assert (result.deleted_count, result.failed) == (len(keys), [])
        for handle in [*ready, *deferred]:
            await handle.result(timeout=60)
    assert await admin_storage.list_files(bucket=bucket, prefix="del") == []
    times_sent = Counter(key for batch in fault_proxy.delete_batches for key in batch)
    for keys in delete_keys:
        # One batch at a time per delete: only the batch in flight when Redis went away can have
        # its answer unrecorded, so a resumed delete resends at most that one. A delete that lost
        # its progress would start over and resend at least the two batches sent before the
        # outage (len(keys) + 2 * DELETE_BATCH_SIZE or more).
        assert set(keys) <= set(times_sent)
        resent = [key for key in keys if times_sent[key] > 1]
        assert len(resent) <= DELETE_BATCH_SIZE, f"{len(resent)} keys resent"
        assert max(times_sent[key] for key in keys) <= 2
        # The first batch was answered and recorded before the outage: sent exactly once.
        assert {times_sent[key] for key in keys[:DELETE_BATCH_SIZE]} == {1}
    for i in range(5):
        assert await admin_storage.fetch_file(bucket=bucket, key=f"ready/{i}") == b"ready %d" % i
        assert await admin_storage.fetch_file(bucket=bucket, key=f"later/{i}") == b"later %d" % i
    assert await admin_storage.fetch_file(bucket=bucket, key="ready/copy") == b"copy me"
    for worker in workers:
        assert worker.running(), f"{worker.name} died with Redis"
        events = [e.get("event") for e in worker.events()]
        assert "redis.unavailable" in events and "redis.recovered" in events
