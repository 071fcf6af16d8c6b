"""Jobs end to end: producer in the test, two in-process workers, Redis and SeaweedFS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.jobs import CopyJob, CopyResult, DeleteJob, DeleteResult, UploadJob, UploadResult
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill, on_every_layout
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


@on_every_layout
async def test_upload_copy_delete_round_trip(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    tmp_path: Path,
) -> None:
    """Upload (inline and from a path), copy and delete run on two workers with typed results."""
    roots = tmp_path / "uploads"
    roots.mkdir()
    big = roots / "big.bin"
    big.write_bytes(bytes(range(256)) * (20 * 1024 * 1024 // 256))
    await start_in_process(STORAGE_JOBS_UPLOAD_ROOTS=str(roots))
    await start_in_process(STORAGE_JOBS_UPLOAD_ROOTS=str(roots))
    other = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=other)
    jobs.limits = jobs.limits.__class__(upload_roots=(roots.resolve(),))

    inline = await jobs.enqueue(
        UploadJob(bucket=bucket, key="docs/a b.txt", data=b"hello", content_type="text/plain")
    )
    from_path = await jobs.enqueue(UploadJob(bucket=bucket, key="big.bin", path=str(big)))
    up = await inline.result(timeout=30)
    assert isinstance(up, UploadResult)
    assert (up.size, up.etag) == (5, "5d41402abc4b2a76b9719d911017c592")
    big_result = await from_path.result(timeout=60)
    assert big_result.size == big.stat().st_size
    assert "-" in big_result.etag  # multipart
    assert await admin_storage.fetch_file(bucket=bucket, key="big.bin") == big.read_bytes()

    copy = await jobs.enqueue(
        CopyJob(src_bucket=bucket, src_key="docs/a b.txt", dst_bucket=other, dst_key="c.txt")
    )
    copied = await copy.result(timeout=30)
    assert copied == CopyResult(
        src_bucket=bucket, src_key="docs/a b.txt", dst_bucket=other, dst_key="c.txt"
    )
    again = await jobs.enqueue(
        CopyJob(
            src_bucket=bucket,
            src_key="docs/a b.txt",
            dst_bucket=other,
            dst_key="c.txt",
            skip_if_identical=True,
        )
    )
    assert (await again.result(timeout=30)).skipped is True
    assert await admin_storage.fetch_file(bucket=other, key="c.txt") == b"hello"

    delete = await jobs.enqueue(DeleteJob(bucket=bucket, keys=["docs/a b.txt", "big.bin", "nope"]))
    result = await delete.result(timeout=30)
    assert result == DeleteResult(bucket=bucket, deleted_count=3, failed=[], attempts=1)
    assert await admin_storage.list_files(bucket=bucket) == []
    assert await delete.status() == JobStatus.COMPLETE


@on_every_layout
async def test_permanent_failure_is_reported_once_and_dead_lettered(
    start_in_process: StartInProcess, jobs: StorageJobsClient, bucket: str
) -> None:
    """A copy of a missing key fails at once with a typed error and one dead letter."""
    worker = await start_in_process()
    handle = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="missing", dst_key="x"))
    with pytest.raises(JobFailedError) as info:
        await handle.result(timeout=30)
    assert info.value.job_id == handle.job_id
    assert info.value.code == "NoSuchKey"
    assert await handle.status() == JobStatus.FAILED
    letters = await jobs.queue.dead_letters.list()
    assert [letter.job_id for letter in letters] == [handle.job_id]
    assert letters[0].code == "NoSuchKey" and letters[0].attempts == 1
    starts = [e for e in worker.events() if e.get("event") == "job.start"]
    assert len(starts) == 1  # not retried


@on_every_layout
async def test_same_job_id_runs_once(
    start_in_process: StartInProcess, jobs: StorageJobsClient, bucket: str
) -> None:
    """Enqueueing one job id twice runs it once; the second call says so."""
    worker = await start_in_process()
    job = UploadJob(bucket=bucket, key="once", data=b"1")
    job_id = f"upload-once-{jobs.queue_name}"  # job ids are global; queues are per test
    first = await jobs.enqueue(job, job_id=job_id)
    second = await jobs.enqueue(job, job_id=job_id)
    assert (first.enqueued, second.enqueued) == (True, False)
    await first.result(timeout=30)
    third = await jobs.enqueue(job, job_id=job_id)
    assert third.enqueued is False  # its result still stands
    runs = [e for e in worker.events() if e.get("event") == "job.start"]
    assert len(runs) == 1


@on_every_layout
async def test_bulk_delete_retries_only_failed_keys(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """2,500 keys: fail-once keys are retried alone; denied keys are reported, never retried."""
    keys = [f"bulk/{i:05d}" for i in range(2500)]
    await fill(seaweedfs, bucket, keys)
    flaky = {keys[i]: "InternalError" for i in (3, 1500, 2499)} | {keys[10]: "SlowDown"}
    denied = {keys[i]: "AccessDenied" for i in (7, 1207)}
    fault_proxy.rules.delete_errors = {**flaky, **denied}
    fault_proxy.rules.delete_error_times = dict.fromkeys(flaky, 1)
    worker = await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url)

    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    result = await handle.result(timeout=60)

    assert result.deleted_count == 2500 - len(denied)
    assert {(f.key, f.code) for f in result.failed} == set(denied.items())
    assert result.attempts == 2
    batches = fault_proxy.delete_batches
    assert sorted(len(b) for b in batches[:3]) == [500, 1000, 1000]
    assert sorted(k for b in batches[3:] for k in b) == sorted(flaky)  # only those keys
    assert sorted(await admin_storage.list_files(bucket=bucket)) == sorted(denied)
    partial = [e for e in worker.events() if e.get("event") == "delete.partial_failure"]
    assert sum(e["failed"] for e in partial) == len(flaky) + len(denied)
    assert {err["key"] for e in partial for err in e["errors"]} == set(flaky) | set(denied)


async def test_transient_errors_retry_with_backoff(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """A copy meeting 503 SlowDown is retried with backoff and succeeds once S3 recovers."""
    await admin_storage.upload_file(bucket=bucket, key="src", data=b"payload")
    fault_proxy.rules.slowdown_rate = 1.0
    worker = await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url,
        STORAGE_JOBS_S3_MAX_ATTEMPTS="1",
        STORAGE_JOBS_MAX_TRIES="10",
    )
    handle = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="src", dst_key="dst"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sum(e.get("event") == "job.retry" for e in worker.events()) >= 2:
            break
        await asyncio.sleep(0.1)
    fault_proxy.rules.slowdown_rate = 0.0
    result = await handle.result(timeout=30)
    assert result.dst_key == "dst"
    retries = [e for e in worker.events() if e.get("event") == "job.retry"]
    assert len(retries) >= 2
    # HEAD answers carry no body, so a throttled HEAD shows as the bare status.
    assert {e["code"] for e in retries} <= {"SlowDown", "503"}
    assert await admin_storage.fetch_file(bucket=bucket, key="dst") == b"payload"
