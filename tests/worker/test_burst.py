"""Our loop in-process: burst mode drains every lane and returns; stop() and close() are clean.

Jobs are uploads and copies against moto (no SeaweedFS); Redis is the session's.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from pydantic import BaseModel

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.jobs import CopyJob, UploadJob
from storage_jobs.queue import LANES, DeadLetterStore, QueueKeys, decode, encode, read_heartbeats
from storage_jobs.settings import Settings
from storage_jobs.worker import _handlers, build_worker
from tests.workers import cli_path

pytestmark = pytest.mark.integration


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fails the test if it leaves a task running in the session's loop."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0.05)  # a task cancelled at the end ends on the loop's next turns
    # The producer's result waiter and pytest-asyncio's finalizers are not the worker's.
    left = [
        t
        for t in asyncio.all_tasks() - before
        if not t.done() and not re.search("ResultWaiter|pytest_asyncio", repr(t))
    ]
    assert left == [], f"tasks left running: {left}"


async def _lanes(jobs: StorageJobsClient, queue: str) -> list[int]:
    return [await jobs.redis.zcard(lane) for lane in QueueKeys(queue).lanes]


async def test_burst_runs_every_lane_then_returns(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str, queue: str, no_leaks: None
) -> None:
    """High, normal, bulk, a job due in 0.5 s and a failure: all finished, then main returns."""
    handles = [
        await jobs.enqueue(
            UploadJob(bucket=moto_bucket, key=f"{lane}-{i}", data=b"x"), priority=lane
        )
        for lane in LANES
        for i in range(3)
    ]
    soon = await jobs.enqueue(UploadJob(bucket=moto_bucket, key="soon", data=b"s"), defer_by=0.5)
    missing = await jobs.enqueue(CopyJob(src_bucket=moto_bucket, src_key="nope", dst_key="d"))
    worker = build_worker(settings, burst=True)
    started = time.monotonic()
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()
    elapsed = time.monotonic() - started
    for handle in [*handles, soon]:
        assert await handle.status() == JobStatus.COMPLETE, handle.job_id
    with pytest.raises(JobFailedError):
        await missing.result(timeout=1)
    assert await _lanes(jobs, queue) == [0, 0, 0]
    assert await read_heartbeats(jobs.redis, queue, max_age=60) == []  # removed by close()
    # arq's own Job API reads our results.
    job = Job(soon.job_id, cast(Any, jobs.redis), _queue_name=queue, _deserializer=decode)
    assert await job.status() == ArqStatus.complete
    assert (await job.result(timeout=1))["key"] == "soon"
    failed = Job(missing.job_id, cast(Any, jobs.redis), _queue_name=queue, _deserializer=decode)
    info = await failed.result_info()
    assert info is not None and not info.success
    assert info.result["error_type"] == "StorageObjectNotFoundError"
    print(f"burst: 11 jobs in {elapsed:.2f} s")


async def test_jobs_that_cannot_start_are_dead_lettered_and_finished(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str, queue: str, no_leaks: None
) -> None:
    """Expired, unknown function, attempts spent, garbage: a dead letter each, never run."""
    payload = UploadJob(bucket=moto_bucket, key="never", data=b"n").model_dump_json()

    def envelope(function: str) -> bytes:
        return encode({"t": 0, "f": function, "a": [payload], "k": {}, "et": 1})

    raws: dict[str, bytes | None] = {
        "expired": None,
        "unknown": envelope("storage_jobs.nope"),
        "spent": envelope("storage_jobs.upload"),
        "garbage": b"\x80\x04 not json",
    }
    keys = QueueKeys(queue)
    for job_id, raw in raws.items():
        if raw is not None:
            await jobs.redis.set(keys.job(job_id), raw)
        await jobs.redis.zadd(keys.queue, {job_id: int(time.time() * 1000)})
    spent = settings.retry_budget().crash_attempts
    await jobs.redis.set(keys.retry("spent"), spent)  # the claim makes it one more
    worker = build_worker(settings, burst=True)
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()
    letters = {d.job_id: d for d in await DeadLetterStore(jobs.redis, queue).list()}
    assert {job_id: letters[job_id].error_type for job_id in raws} == {
        "expired": "JobFailed",
        "unknown": "JobFailed",
        "spent": "JobFailed",
        "garbage": "InvalidPayload",
    }
    assert letters["unknown"].message == "function 'storage_jobs.nope' not found"
    assert letters["spent"].message == f"max {spent} retries exceeded"
    assert letters["spent"].attempts == spent + 1
    for job_id in raws:
        with pytest.raises(JobFailedError) as failed:
            await jobs.handle(job_id).result(timeout=1)
        assert failed.value.error_type == letters[job_id].error_type
    assert await _lanes(jobs, queue) == [0, 0, 0]
    assert not await jobs.redis.exists(*(keys.job(j) for j in raws))


async def test_burst_leaves_a_job_due_later_and_returns_at_once(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str, no_leaks: None
) -> None:
    """A job deferred by a minute is not waited for: the queue has nothing due within 1 s."""
    later = await jobs.enqueue(UploadJob(bucket=moto_bucket, key="later", data=b"l"), defer_by=60)
    worker = build_worker(settings, burst=True)
    started = time.monotonic()
    try:
        await asyncio.wait_for(worker.main(), 10)
    finally:
        await worker.close()
    assert time.monotonic() - started < 5
    assert await later.status() == JobStatus.DEFERRED


async def test_stop_lets_the_running_job_finish(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str, queue: str, no_leaks: None
) -> None:
    """The in-process usage: main() as a task, stop(), await it, close(): heartbeat removed."""
    worker = build_worker(settings)
    task = asyncio.create_task(worker.main())
    handle = await jobs.enqueue(UploadJob(bucket=moto_bucket, key="one", data=b"1"))
    assert (await handle.result(timeout=20)).key == "one"
    assert [b.worker_id for b, _ in await read_heartbeats(jobs.redis, queue, max_age=60)] == [
        worker.worker_id
    ]
    worker.stop()
    await asyncio.wait_for(task, 10)
    await worker.close()
    assert await read_heartbeats(jobs.redis, queue, max_age=60) == []


async def _sleeping_upload(job: BaseModel, ctx: Any) -> BaseModel:
    await asyncio.sleep(60)
    raise AssertionError("not cancelled")


@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_job_running_past_the_grace_is_requeued(
    settings: Settings,
    jobs: StorageJobsClient,
    moto_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    no_leaks: None,
) -> None:
    """stop(): the handler is cancelled after the grace and the job queued again at once.

    Cancelling main() instead (a hard stop) leaves the job to its lease, which lapses.
    """
    monkeypatch.setitem(cast(dict[str, Any], _handlers.HANDLERS), "upload", _sleeping_upload)
    worker = build_worker(settings.model_copy(update={"shutdown_grace": 0.3}))
    task = asyncio.create_task(worker.main())
    handle = await jobs.enqueue(UploadJob(bucket=moto_bucket, key="slow", data=b"1"))
    while await handle.status() != JobStatus.IN_PROGRESS:
        await asyncio.sleep(0.02)
    started = time.monotonic()
    if how == "stop":
        worker.stop()
        await asyncio.wait_for(task, 10)
    else:
        task.cancel()
    await worker.close()
    assert time.monotonic() - started < 5
    lease = QueueKeys.in_progress(handle.job_id)
    if how == "stop":
        assert await handle.status() == JobStatus.QUEUED
        assert not await jobs.redis.exists(lease)
    else:
        assert await jobs.redis.exists(lease)  # held until it lapses (3 s)
    assert await read_heartbeats(jobs.redis, settings.queue_name, max_age=60) == []


async def test_the_cli_burst_worker_exits_0_once_the_queue_is_drained(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str, queue: str
) -> None:
    """``storage-jobs worker --burst`` runs the queued jobs and exits 0."""
    handles = [
        await jobs.enqueue(UploadJob(bucket=moto_bucket, key=f"cli-{i}", data=b"c"), priority=lane)
        for i, lane in enumerate(LANES)
    ]
    env = {
        **os.environ,
        "STORAGE_JOBS_REDIS_URL": settings.redis_url.get_secret_value(),
        "STORAGE_JOBS_QUEUE_NAME": queue,
        "STORAGE_JOBS_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": "testing",
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": "testing-secret",
        "STORAGE_JOBS_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        cli_path(), "worker", "--burst", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()[-3000:]
    for handle in handles:
        assert await handle.status() == JobStatus.COMPLETE
    assert b"worker.burst_done" in out
    assert await _lanes(jobs, queue) == [0, 0, 0]
