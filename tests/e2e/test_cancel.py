"""Cancel end to end: worker subprocesses on real Redis and SeaweedFS (through the fault proxy)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from storage_jobs.client import (
    JobCancelledError,
    JobStatus,
    StorageJobsClient,
    SyncStorageJobsClient,
)
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import DeleteJob, MigrateJob, UploadJob, batch_job_id
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill, keys_left, on_every_layout, run_cli, wait_until
from tests.workers import StartInProcess, StartWorker

pytestmark = pytest.mark.integration

# This machine is shared and loaded: a 3 s lease can lapse under a busy worker.
LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}


@on_every_layout
async def test_cancel_queued_and_deferred_jobs_while_no_worker_runs(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    settings: Settings,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """Cancelled with every worker down, through client, sync client and CLI: never run."""
    queued = await jobs.enqueue(UploadJob(bucket=bucket, key="queued.txt", data=b"q"))
    deferred = await jobs.enqueue(
        UploadJob(bucket=bucket, key="deferred.txt", data=b"d"), defer_by=1
    )
    by_cli = await jobs.enqueue(UploadJob(bucket=bucket, key="cli.txt", data=b"c"))
    kept = await jobs.enqueue(UploadJob(bucket=bucket, key="kept.txt", data=b"k"))
    assert await queued.cancel()
    sync = SyncStorageJobsClient(settings=settings)
    try:
        assert sync.cancel(deferred.job_id)
        assert not sync.cancel(f"no-such-{uuid.uuid4().hex}")
    finally:
        sync.close()
    run = await run_cli(worker_env, "cancel", by_cli.job_id, "--json")
    code, out = run.returncode, run.stdout
    assert code == 0 and json.loads(out) == [{"job_id": by_cli.job_id, "cancelled": True}]
    assert (await run_cli(worker_env, "cancel", f"no-such-{uuid.uuid4().hex}")).returncode == 3

    worker = await start_in_process(**LEASE)
    assert (await kept.result(timeout=60)).size == 1
    await asyncio.sleep(1.5)  # the deferred job is due now: it must still not run
    for handle in (queued, deferred, by_cli):
        assert await handle.status() == JobStatus.CANCELLED
        with pytest.raises(JobCancelledError) as caught:
            await handle.result(timeout=1)
        assert caught.value.progress == {}
        assert not worker.events("job.start", job_id=handle.job_id)
    assert await keys_left(admin_storage, bucket, "") == {"kept.txt"}
    assert not await kept.cancel()  # finished: False
    assert await jobs.queue.dead_letters.count() == 0
    run = await run_cli(worker_env, "result", queued.job_id, "--json")
    code, out = run.returncode, run.stdout
    assert code == 1 and json.loads(out)["status"] == "cancelled"


async def test_cancel_running_delete_of_50000_keys(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """A running 50,000-key delete stops at a batch boundary; what it says it deleted is gone.

    Every 20th key exists (2,500 objects: writing 50,000 takes minutes on a loaded machine);
    S3 answers "deleted" for a missing key too, so the job's keys are checked against S3 through
    the ones that exist: exactly those among ``deleted_keys`` are gone, every other one is left.
    """
    keys = [f"bulk/{i:05d}" for i in range(50_000)]
    existing = set(keys[::20])
    await fill(seaweedfs, bucket, sorted(existing))
    assert await keys_left(admin_storage, bucket, "bulk/") == existing
    fault_proxy.rules.latency_s = 0.3  # ~4 batches in flight at a time, 50 in all
    worker = await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **LEASE)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))

    async def some_batches_answered() -> bool:
        return len(fault_proxy.delete_batches) >= 8

    await wait_until(some_batches_answered)
    assert await jobs.cancel(handle.job_id)
    cancelled_at = time.monotonic()
    sent_at_cancel = len(fault_proxy.delete_batches)
    with pytest.raises(JobCancelledError) as caught:
        await handle.result(timeout=60)
    settled_s = time.monotonic() - cancelled_at
    sent = len(fault_proxy.delete_batches)
    print(f"cancel settled in {settled_s:.2f} s; batches {sent_at_cancel} -> {sent} of 50")
    assert sent < 50  # it stopped
    progress = caught.value.progress
    deleted = progress["deleted_keys"]
    assert progress["deleted_count"] == len(deleted) == 1000 * sent  # whole batches, all recorded
    assert set(deleted) == set(keys[: len(deleted)])
    gone = existing - await keys_left(admin_storage, bucket, "bulk/")
    assert gone == existing & set(deleted)
    assert len(gone) == len(deleted) // 20
    assert await handle.status() == JobStatus.CANCELLED
    assert await jobs.queue.dead_letters.count() == 0
    assert worker.events("job.cancelled", job_id=handle.job_id)
    await asyncio.sleep(1)
    assert len(fault_proxy.delete_batches) == sent  # nothing after the cancel settled


@on_every_layout
async def test_cancel_running_migration_settles_every_batch_and_reports(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """Coordinator and batches stop; nothing is copied after the cancel settles; report written."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"m/{i:05d}" for i in range(3000)]
    await fill(seaweedfs, bucket, keys)
    # Copies are slow, the report's upload is not: a coordinator that wrote its report without
    # waiting for its running batches would miss the copies still in flight.
    fault_proxy.rules = FaultRules(
        latency_s=2.0, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/m/"
    )
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, **LEASE}
    workers = [await start_in_process(**env), await start_in_process(**env)]
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="m/",
        dst_bucket=dst,
        dst_prefix="m/",
        batch_size=100,
        report="all",
    )
    handle = await jobs.enqueue(job, job_id=f"mig-{uuid.uuid4().hex[:8]}")

    async def some_copied() -> bool:
        return (await jobs.progress(handle.job_id)).done >= 100

    await wait_until(some_copied)
    assert await handle.cancel()
    with pytest.raises(JobCancelledError) as caught:
        await handle.result(timeout=120)
    copies = sum(fault_proxy.copies.values())
    progress = await jobs.progress(handle.job_id)
    assert progress.status == "cancelled" and caught.value.progress["status"] == "cancelled"
    assert progress.done < 3000
    # Every batch enqueued has a result (done or cancelled): none can run later.
    for n in range(1, progress.pages + 1):
        status = await jobs.status(batch_job_id(handle.job_id, n))
        assert status in (JobStatus.COMPLETE, JobStatus.CANCELLED), (n, status)
    await asyncio.sleep(2)
    assert sum(fault_proxy.copies.values()) == copies  # no batch ran after the cancel settled
    copied = await keys_left(admin_storage, dst, "m/")
    assert len(copied) == progress.done == copies
    assert progress.report_bucket and progress.report_key
    report = await admin_storage.fetch_file(bucket=progress.report_bucket, key=progress.report_key)
    lines = [json.loads(line) for line in report.splitlines()]
    assert {line["key"] for line in lines if line["status"] == "copied"} == copied
    assert any(w.events("migration.cancelled", job_id=handle.job_id) for w in workers)


async def test_cancel_while_workers_are_down_then_sigkill_is_not_rerun(
    start_worker: StartWorker,
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """Worker SIGKILLed mid-delete, cancel with none up: the next worker finishes it unrun."""
    keys = [f"k/{i:05d}" for i in range(20_000)]  # S3 deletes missing keys all the same
    fault_proxy.rules.latency_s = 0.5
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_DELETE_CONCURRENCY": "1",
        **LEASE,
    }
    first = start_worker(**env)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))

    async def two_batches() -> bool:
        return len(fault_proxy.delete_batches) >= 2

    await wait_until(two_batches)
    first.kill()
    sent = len(fault_proxy.delete_batches)
    assert await jobs.cancel(handle.job_id)  # its lease is still live: marked
    second = await start_in_process(**env)
    with pytest.raises(JobCancelledError):
        await handle.result(timeout=60)  # once the dead worker's lease lapses
    await asyncio.sleep(1)
    assert not second.events("job.start", job_id=handle.job_id)
    (settled,) = second.events("job.cancelled", job_id=handle.job_id)
    assert settled["ran"] is False
    assert len(fault_proxy.delete_batches) == sent
    assert await handle.status() == JobStatus.CANCELLED
    assert await jobs.queue.dead_letters.count() == 0
