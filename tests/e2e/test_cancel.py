"""Cancel end to end: worker subprocesses on real Redis and SeaweedFS (through the fault proxy)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from storage_jobs.client import (
    JobCancelledError,
    JobStatus,
    StorageJobsClient,
    SyncStorageJobsClient,
)
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import DeleteJob, MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import DeadLetterStore
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess, cli_path

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]
# This machine is shared and loaded: a 3 s lease can lapse under a busy worker.
LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    """Polls an async predicate until it is true."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def events(worker: WorkerProcess, event: str, job_id: str) -> list[dict[str, object]]:
    """The worker's log events of one kind for one job."""
    return [e for e in worker.events() if e.get("event") == event and e.get("job_id") == job_id]


async def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Runs ``storage-jobs ARGS``; its exit code and stdout."""
    proc = await asyncio.create_subprocess_exec(
        cli_path(), *args, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def put_via_filer(seaweedfs: SeaweedFS, bucket: str, keys: list[str]) -> None:
    """Writes one-byte objects through SeaweedFS's filer, served by its S3 gateway as usual.

    Unsigned filer PUTs cost far less CPU than signed S3 PUTs on this loaded machine.
    """
    base = f"http://127.0.0.1:{seaweedfs.ports['filer.port']}/buckets/{bucket}/"
    slots = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:

        async def put(key: str) -> None:
            async with slots, session.put(base + key, data=b"x") as answer:
                assert answer.status < 300, await answer.text()

        await asyncio.gather(*(put(k) for k in keys))


async def keys_left(storage: StorageClient, bucket: str, prefix: str) -> set[str]:
    """Every key under a prefix."""
    left: set[str] = set()
    async for page in storage.iter_pages(bucket=bucket, prefix=prefix):
        left.update(o.key for o in page)
    return left


async def test_cancel_queued_and_deferred_jobs_while_no_worker_runs(
    start_worker: StartWorker,
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
    code, out = await cli(worker_env, "cancel", by_cli.job_id, "--json")
    assert code == 0 and json.loads(out) == [{"job_id": by_cli.job_id, "cancelled": True}]
    code, _ = await cli(worker_env, "cancel", f"no-such-{uuid.uuid4().hex}")
    assert code == 3

    worker = start_worker(**LEASE)
    assert (await kept.result(timeout=60)).size == 1
    await asyncio.sleep(1.5)  # the deferred job is due now: it must still not run
    for handle in (queued, deferred, by_cli):
        assert await handle.status() == JobStatus.CANCELLED
        with pytest.raises(JobCancelledError) as caught:
            await handle.result(timeout=1)
        assert caught.value.progress == {}
        assert not events(worker, "job.start", handle.job_id)
    assert await keys_left(admin_storage, bucket, "") == {"kept.txt"}
    assert not await kept.cancel()  # finished: False
    assert await DeadLetterStore(jobs.redis, jobs.queue_name).count() == 0
    code, out = await cli(worker_env, "result", queued.job_id, "--json")
    assert code == 1 and json.loads(out)["status"] == "cancelled"


async def test_cancel_running_delete_of_50000_keys(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """A running 50,000-key delete stops at a batch boundary; what it says it deleted is gone.

    Every fifth key exists (10,000 objects: writing 50,000 takes minutes on a loaded machine);
    S3 answers "deleted" for a missing key too, so the job's keys are checked against S3 through
    the ones that exist: exactly those among ``deleted_keys`` are gone, every other one is left.
    """
    keys = [f"bulk/{i:05d}" for i in range(50_000)]
    existing = set(keys[::5])
    await put_via_filer(seaweedfs, bucket, sorted(existing))
    assert await keys_left(admin_storage, bucket, "bulk/") == existing
    fault_proxy.rules.latency_s = 0.3  # ~4 batches in flight at a time, 50 in all
    worker = start_worker(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **LEASE)
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
    assert len(gone) == len(deleted) // 5
    assert await handle.status() == JobStatus.CANCELLED
    assert await DeadLetterStore(jobs.redis, jobs.queue_name).count() == 0
    assert events(worker, "job.cancelled", handle.job_id)
    await asyncio.sleep(1)
    assert len(fault_proxy.delete_batches) == sent  # nothing after the cancel settled


async def test_cancel_running_migration_settles_every_batch_and_reports(
    start_worker: StartWorker,
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
    await put_via_filer(seaweedfs, bucket, keys)
    # Copies are slow, the report's upload is not: a coordinator that wrote its report without
    # waiting for its running batches would miss the copies still in flight.
    fault_proxy.rules = FaultRules(
        latency_s=2.0, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/m/"
    )
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, **LEASE}
    workers = [start_worker(**env), start_worker(**env)]
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
    assert any(events(w, "migration.cancelled", handle.job_id) for w in workers)


async def test_cancel_while_workers_are_down_then_sigkill_is_not_rerun(
    start_worker: StartWorker,
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
    second = start_worker(**env)
    with pytest.raises(JobCancelledError):
        await handle.result(timeout=60)  # once the dead worker's lease lapses
    await asyncio.sleep(1)
    assert not events(second, "job.start", handle.job_id)
    (settled,) = events(second, "job.cancelled", handle.job_id)
    assert settled["ran"] is False
    assert len(fault_proxy.delete_batches) == sent
    assert await handle.status() == JobStatus.CANCELLED
    assert await DeadLetterStore(jobs.redis, jobs.queue_name).count() == 0
