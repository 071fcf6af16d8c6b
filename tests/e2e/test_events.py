"""Completion events and expiry end to end: in-process workers on real Redis and SeaweedFS."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from storage_jobs.client import (
    JobEvent,
    JobExpiredError,
    JobStatus,
    StorageJobsClient,
    SyncStorageJobsClient,
)
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import MigrateJob, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill, keys_left, on_every_layout, run_cli
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


async def _events_until(jobs: StorageJobsClient, job_ids: set[str]) -> list[JobEvent]:
    """Follows the events until every one of ``job_ids`` has ended."""
    seen: list[JobEvent] = []

    async def follow() -> None:
        async for event in jobs.events(wait=1):
            seen.append(event)
            if job_ids <= {e.job_id for e in seen}:
                return

    await asyncio.wait_for(follow(), 120)
    return seen


@on_every_layout
async def test_a_job_expired_behind_a_paused_queue_never_runs(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    settings: Settings,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """``expires=1`` behind a queue paused 2 s: never run, status ``expired``, its event.

    Nothing is written to S3, no dead letter; a job without an expiry behind the same pause runs.
    """
    assert await jobs.pause_queue()
    worker = await start_in_process()
    late = await jobs.enqueue(UploadJob(bucket=bucket, key="late.txt", data=b"l"), expires=1)
    sync = SyncStorageJobsClient(settings=settings)
    try:
        (also_late,) = sync.enqueue_many(
            [UploadJob(bucket=bucket, key="late2.txt", data=b"l")], expires=1
        )
    finally:
        sync.close()
    kept = await jobs.enqueue(UploadJob(bucket=bucket, key="kept.txt", data=b"k"))
    await asyncio.sleep(2)
    assert await jobs.resume_queue()
    assert (await kept.result(timeout=60)).size == 1
    for handle in (late, jobs.handle(also_late.job_id)):
        with pytest.raises(JobExpiredError):
            await handle.result(timeout=30)
    assert await late.status() == JobStatus.EXPIRED
    assert await jobs.status(also_late.job_id) == JobStatus.EXPIRED
    assert await keys_left(admin_storage, bucket, "") == {"kept.txt"}
    assert not worker.events("job.start", job_id=late.job_id)
    assert worker.events("job.expired", job_id=late.job_id)
    assert await jobs.queue.dead_letters.count() == 0
    events = await _events_until(jobs, {late.job_id, also_late.job_id, kept.job_id})
    by_job = {e.job_id: e for e in events}
    assert by_job[late.job_id].status == "expired" and by_job[late.job_id].started_ms is None
    error = by_job[late.job_id].error
    assert error is not None and error.type == "JobExpired"
    assert by_job[kept.job_id].status == "complete"
    assert by_job[kept.job_id].result == {
        "kind": "upload", "bucket": bucket, "key": "kept.txt", "size": 1,
        "etag": by_job[kept.job_id].result["etag"],  # type: ignore[index]
    }  # fmt: skip
    # The sync client's bounded read: at most ``limit``, resumable from the last one's id.
    sync = SyncStorageJobsClient(settings=settings)
    try:
        first_two = await asyncio.to_thread(sync.events, limit=2)
        rest = await asyncio.to_thread(sync.events, first_two[-1].id, limit=100)
    finally:
        sync.close()
    # Across shards a follow's order is each read's (a cluster's blocking read answers with the
    # first shard that has one), so the two reads agree on the events, once each.
    read = [e.job_id for e in first_two + rest]
    assert len(first_two) == 2 and sorted(read) == sorted(e.job_id for e in events[:3])
    run = await run_cli(worker_env, "result", late.job_id, "--json")
    assert run.returncode == 1 and json.loads(run.stdout)["status"] == "expired"
    # The CLI reads the same stream, and resumes after an id.
    run = await run_cli(worker_env, "events", "--json")
    printed = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0 and {e["job_id"] for e in printed} == set(by_job)
    run = await run_cli(worker_env, "events", "--json", "--since", printed[0]["id"])
    assert [json.loads(line)["job_id"] for line in run.stdout.splitlines()] == [
        e["job_id"] for e in printed[1:]
    ]
    assert (await run_cli(worker_env, "events", "--since", "nope")).returncode == 2


async def test_the_cli_enqueues_with_an_expiry(
    jobs: StorageJobsClient, worker_env: dict[str, str], bucket: str
) -> None:
    """``storage-jobs enqueue ... --expires-in``: the expiry rides in the job's envelope."""
    run = await run_cli(
        worker_env, "enqueue", "upload", bucket, "k", "--data", "x", "--expires-in", "30", "--json"
    )
    assert run.returncode == 0
    job_id = json.loads(run.stdout)["job_id"]
    raw = await jobs.redis.get(jobs.queue.shard(job_id).keys.job(job_id))
    assert raw is not None and b'"x":' in raw[:320]
    bad = await run_cli(
        worker_env, "enqueue", "upload", bucket, "k", "--data", "x", "--expires-in", "0"
    )
    assert bad.returncode == 2


async def test_a_prefix_job_emits_one_event_not_one_per_batch(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    seaweedfs: SeaweedFS,
    bucket: str,
) -> None:
    await fill(seaweedfs, bucket, [f"m/{i}" for i in range(7)])
    dst = f"dst-{uuid.uuid4().hex[:10]}"
    seaweedfs.client().create_bucket(Bucket=dst)
    await start_in_process()
    handle = await jobs.enqueue(
        MigrateJob(src_bucket=bucket, src_prefix="m/", dst_bucket=dst, batch_size=2)
    )
    after = await jobs.enqueue(UploadJob(bucket=bucket, key="after", data=b"a"), priority="bulk")
    assert (await handle.result(timeout=120)).copied == 7
    events = await _events_until(jobs, {handle.job_id, after.job_id})
    mine = [e for e in events if e.job_id.startswith(handle.job_id)]
    assert [(e.job_id, e.kind, e.status) for e in mine] == [(handle.job_id, "migrate", "complete")]
    assert mine[0].result is not None and mine[0].result["copied"] == 7
