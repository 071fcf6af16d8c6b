"""The failure threshold: a migration whose every key is denied stops soon after crossing it."""

from __future__ import annotations

import uuid

import pytest

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import put_many
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration

N_KEYS = 3000
MIN_TASKS = 1000


async def test_every_key_denied_stops_after_the_threshold_not_after_all_keys(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """50% after 1,000 tasks (S3 Batch Operations' rule): stops within a few hundred keys."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await put_many(admin_storage, bucket, [f"k/{i:05d}" for i in range(N_KEYS)])
    fault_proxy.rules = FaultRules(deny_copy_sources=f"{bucket}/k/")
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, "STORAGE_JOBS_LEASE_SECONDS": "30"}
    await start_in_process(**env)
    await start_in_process(**env)
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="k/",
        dst_bucket=dst,
        batch_size=100,
        max_failure_ratio=0.5,
        min_tasks_before_threshold=MIN_TASKS,
    )
    handle = await jobs.enqueue(job, job_id=f"doomed-{uuid.uuid4().hex[:8]}")
    with pytest.raises(JobFailedError) as info:
        await handle.result(timeout=240)
    assert info.value.error_type == "FailureThresholdError"

    progress = await jobs.progress(handle.job_id)
    assert progress.status == "failed_threshold" and progress.stopped == "failure_threshold"
    assert progress.done == 0 and progress.failed >= MIN_TASKS
    # Stopped between objects, not after every in-flight batch (let alone all 3,000 keys).
    assert progress.failed <= MIN_TASKS + 400, progress.failed
    assert fault_proxy.stats["copy_denied"] <= MIN_TASKS + 400
    assert progress.report_key
    raw = await admin_storage.fetch_file(
        bucket=progress.report_bucket or dst, key=progress.report_key
    )
    lines = raw.decode().splitlines()
    assert sum('"status":"failed"' in line for line in lines) == progress.failed
    assert sum('"status":"stopped"' in line for line in lines) == 1
