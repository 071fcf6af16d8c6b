"""Priority lanes end to end: a migration's batches wait in bulk while a normal job runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import QueueKeys, decode
from tests.e2e.test_cancel import put_via_filer, wait_until
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


async def _finished_ms(jobs: StorageJobsClient, job_id: str) -> int:
    """When the worker finished a job: its stored result's ``ft`` (ms)."""
    raw = await jobs.redis.get(QueueKeys.result(job_id))
    assert raw is not None, job_id
    return int(decode(raw)["ft"])


async def test_a_normal_upload_overtakes_a_migrations_bulk_batches(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """One worker busy with a migration: an upload enqueued mid-way completes before it ends.

    The migration's batches wait in the bulk lane; the upload, enqueued with no priority, goes
    to normal, which the worker takes first. Ordering is read off the results in Redis.
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"l/{i:04d}" for i in range(1000)]
    await put_via_filer(seaweedfs, bucket, keys)
    # Copies are slow, listing is not: the batches pile up in their lane.
    fault_proxy.rules = FaultRules(
        latency_s=0.3, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/"
    )
    start_worker(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url,
        STORAGE_JOBS_MAX_JOBS="2",
        STORAGE_JOBS_LEASE_SECONDS="20",
    )
    job = MigrateJob(
        src_bucket=bucket, src_prefix="l/", dst_bucket=dst, dst_prefix="l/", batch_size=100
    )
    migration = await jobs.enqueue(job, job_id=f"mig-{uuid.uuid4().hex[:8]}")
    lanes = QueueKeys(jobs.queue_name)
    last = batch_job_id(migration.job_id, 10)

    async def all_listed() -> bool:
        return await jobs.redis.zscore(lanes.lane("bulk"), last) is not None

    await wait_until(all_listed)
    assert await jobs.redis.zscore(lanes.queue, last) is None  # not in the normal lane
    batches = [batch_job_id(migration.job_id, n) for n in range(1, 11)]
    done_before = {b for b in batches if await jobs.redis.exists(QueueKeys.result(b))}
    upload = await jobs.enqueue(UploadJob(bucket=bucket, key="urgent.txt", data=b"u"))
    assert await jobs.redis.zscore(lanes.queue, upload.job_id) is not None
    assert (await upload.result(timeout=120)).size == 1
    # The upload is done while the migration still has batches waiting in bulk.
    assert await migration.status() == JobStatus.IN_PROGRESS
    assert await jobs.status(last) == JobStatus.QUEUED
    result = await migration.result(timeout=300)
    assert (result.listed, result.copied, result.failed) == (1000, 1000, 0)
    upload_done = await _finished_ms(jobs, upload.job_id)
    assert upload_done < await _finished_ms(jobs, last)
    # One slot runs batches (the coordinator holds the other): the batch running when the upload
    # came may finish first, then the next claim takes the upload, not the next bulk batch.
    overtook = {b for b in batches if await _finished_ms(jobs, b) < upload_done} - done_before
    assert len(overtook) <= 1, sorted(overtook)
    assert upload_done < await _finished_ms(jobs, migration.job_id)
