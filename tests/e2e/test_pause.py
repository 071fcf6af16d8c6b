"""Pause and resume end to end: the queue, and one migration, with in-process workers."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import (
    attempts_given_back,
    fill,
    keys_left,
    on_every_layout,
    run_cli,
    wait_until,
)
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration

LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}
OBJECTS = 1000  # a migration of 20 batches of 50


@on_every_layout
async def test_queue_pause_lets_running_jobs_finish_and_takes_nothing_new(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    worker_env: dict[str, str],
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """Paused (CLI): the job in flight completes, new ones wait; health ok; resume runs them."""
    fault_proxy.rules.latency_s = 1.5
    worker = await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **LEASE)
    running = await jobs.enqueue(UploadJob(bucket=bucket, key="inflight.txt", data=b"1"))

    async def started() -> bool:
        return bool(worker.events("job.start", job_id=running.job_id))

    await wait_until(started)
    run = await run_cli(worker_env, "queue", "pause", "--json")
    code, out = run.returncode, run.stdout
    assert code == 0 and json.loads(out)["changed"] is True
    waiting = [
        await jobs.enqueue(UploadJob(bucket=bucket, key=f"new-{i}.txt", data=b"n"))
        for i in range(3)
    ]
    assert (await running.result(timeout=60)).size == 1  # finished while paused
    await asyncio.sleep(2)
    for handle in waiting:
        assert await handle.status() == JobStatus.QUEUED
        assert not worker.events("job.start", job_id=handle.job_id)
    run = await run_cli(worker_env, "queue", "--json")
    code, out = run.returncode, run.stdout
    assert code == 0 and json.loads(out)["paused"] is True and json.loads(out)["depth"] == 3
    run = await run_cli(worker_env, "health")
    code, out = run.returncode, run.stdout
    assert code == 0 and "queue paused" in out
    assert any(e.get("event") == "queue.paused" for e in worker.events())

    assert (await run_cli(worker_env, "queue", "resume")).returncode == 0
    for handle in waiting:
        assert (await handle.result(timeout=60)).size == 1
    assert any(e.get("event") == "queue.resumed" for e in worker.events())
    assert not await jobs.queue_paused()


@on_every_layout
async def test_migration_pause_and_resume_copies_each_object_once(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """Paused mid-way: no batch is taken, other jobs flow; resumed: the copied set is exact."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"p/{i:05d}" for i in range(OBJECTS)]
    await fill(seaweedfs, bucket, keys)
    # Copies are slow, listing is not: every batch is enqueued long before the copies are done.
    fault_proxy.rules = FaultRules(
        latency_s=0.3, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/"
    )
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, "STORAGE_JOBS_MAX_JOBS": "2", **LEASE}
    workers = [await start_in_process(**env), await start_in_process(**env)]
    job = MigrateJob(
        src_bucket=bucket, src_prefix="p/", dst_bucket=dst, dst_prefix="p/", batch_size=50
    )
    handle = await jobs.enqueue(job, job_id=f"mig-{uuid.uuid4().hex[:8]}")

    async def some_copied() -> bool:
        return (await jobs.progress(handle.job_id)).done >= OBJECTS // 10

    await wait_until(some_copied)
    assert await jobs.pause(handle.job_id)
    pages = (await jobs.progress(handle.job_id)).pages
    at_pause = [await jobs.status(batch_job_id(handle.job_id, n)) for n in range(1, pages + 1)]
    # Running batches stop at once, so a claim may have parked the queued ones already.
    waiting = (JobStatus.QUEUED, JobStatus.PAUSED)
    queued_at_pause = [n for n, s in enumerate(at_pause, 1) if s in waiting]
    assert queued_at_pause  # batches waiting when the pause came: none of them may start

    async def batches_idle() -> bool:
        progress = await jobs.progress(handle.job_id)
        statuses = [
            await jobs.status(batch_job_id(handle.job_id, n)) for n in range(1, progress.pages + 1)
        ]
        return JobStatus.IN_PROGRESS not in statuses and progress.status == "paused"

    await wait_until(batches_idle, timeout=60)  # the batches running at the pause finish
    copies = sum(fault_proxy.copies.values())
    other = await jobs.enqueue(UploadJob(bucket=bucket, key="other.txt", data=b"o"))
    assert (await other.result(timeout=60)).size == 1  # other jobs keep flowing
    await asyncio.sleep(2)
    paused = await jobs.progress(handle.job_id)
    assert sum(fault_proxy.copies.values()) == copies < OBJECTS
    assert paused.status == "paused" and paused.done == copies
    statuses = {
        await jobs.status(batch_job_id(handle.job_id, n)) for n in range(1, paused.pages + 1)
    }
    assert JobStatus.PAUSED in statuses
    for n in queued_at_pause:
        assert await jobs.status(batch_job_id(handle.job_id, n)) == JobStatus.PAUSED, n
    assert await handle.status() == JobStatus.IN_PROGRESS
    assert any(w.events("migration.paused", job_id=handle.job_id) for w in workers)

    assert (await run_cli(worker_env, "resume", handle.job_id)).returncode == 0
    assert (
        await run_cli(worker_env, "resume", handle.job_id)
    ).returncode == 3  # not paused any more
    result = await handle.result(timeout=180)
    assert (result.listed, result.copied, result.failed) == (OBJECTS, OBJECTS, 0)
    assert max(fault_proxy.copies.values()) == 1  # nothing copied twice
    assert len(fault_proxy.copies) == OBJECTS
    assert await keys_left(admin_storage, dst, "p/") == set(keys)
    assert any(w.events("migration.resumed", job_id=handle.job_id) for w in workers)


async def test_pause_stops_running_batches_of_1000_at_their_next_object(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """Two batches of 1,000 copying: a pause stops both within a few objects.

    The rest of each is parked, and the resume copies each object once.
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"b/{i:05d}" for i in range(2000)]
    await fill(seaweedfs, bucket, keys)
    fault_proxy.rules = FaultRules(
        latency_s=0.1, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/"
    )
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, "STORAGE_JOBS_MAX_JOBS": "4", **LEASE}
    worker = await start_in_process(**env)
    job = MigrateJob(
        src_bucket=bucket, src_prefix="b/", dst_bucket=dst, dst_prefix="b/", batch_size=1000
    )
    handle = await jobs.enqueue(job, job_id=f"mig-{uuid.uuid4().hex[:8]}")
    batches = [batch_job_id(handle.job_id, n) for n in (1, 2)]

    async def both_copying() -> bool:
        progress = await jobs.progress(handle.job_id)
        running = [await jobs.status(b) == JobStatus.IN_PROGRESS for b in batches]
        return all(running) and progress.done >= 100

    await wait_until(both_copying, timeout=60)
    assert await jobs.pause(handle.job_id)
    at_pause = sum(fault_proxy.copies.values())

    async def both_parked() -> bool:
        return all([await jobs.status(b) == JobStatus.PAUSED for b in batches])

    await wait_until(both_parked, timeout=60)
    settled = sum(fault_proxy.copies.values())
    # Before, each running batch copied on to its end: 2,000 copies. Now a few per batch.
    assert settled - at_pause < 200, (at_pause, settled)
    paused = await jobs.progress(handle.job_id)
    assert paused.done == settled < 1000  # every copy made is recorded
    assert worker.events("job.paused", job_id=batches[0])

    fault_proxy.rules.latency_s = 0  # the rest copies at full speed
    assert await jobs.resume(handle.job_id)
    result = await handle.result(timeout=180)
    assert (result.listed, result.copied, result.failed) == (2000, 2000, 0)
    assert max(fault_proxy.copies.values()) == 1  # nothing copied twice
    assert len(fault_proxy.copies) == 2000
    assert await keys_left(admin_storage, dst, "b/") == set(keys)
    # A pause is no attempt: each batch ran again after it, as the same attempt.
    for batch in batches:
        assert attempts_given_back(worker, batch, "job.paused")


async def test_pause_of_a_job_that_is_no_prefix_job_is_a_usage_error(
    jobs: StorageJobsClient, worker_env: dict[str, str], bucket: str
) -> None:
    """Only migrations and prefix deletes pause: exit 2, nothing changed."""
    handle = await jobs.enqueue(UploadJob(bucket=bucket, key="u.txt", data=b"u"))
    assert (await run_cli(worker_env, "pause", handle.job_id)).returncode == 2
    assert (await run_cli(worker_env, "pause", f"no-such-{uuid.uuid4().hex}")).returncode == 3
    assert await handle.status() == JobStatus.QUEUED
    assert not await jobs.control.job_paused(handle.job_id)
