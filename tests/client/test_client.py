"""StorageJobsClient against a real Redis: enqueue, dedupe, batches, status and results."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, cast

import pytest
import redis.asyncio.client

from storage_jobs.client import (
    JobFailedError,
    JobStatus,
    StorageJobsClient,
    SyncStorageJobsClient,
)
from storage_jobs.jobs import (
    CopyJob,
    DeleteJob,
    DeleteResult,
    JobRejectedError,
    UploadJob,
    job_adapter,
    spec_for_job,
)
from storage_jobs.queue import DeadLetterStore, QueueKeys
from storage_jobs.queue._enqueue import QUEUED_JOB_MIN_TTL
from storage_jobs.settings import Settings
from storage_jobs.worker import JobFailure, decode, encode

DELETE = DeleteJob(bucket="bkt", keys=["a", "b"])


async def our_keys(client: StorageJobsClient, *job_ids: str) -> set[bytes]:
    """Every key of the client's queue, plus the job and result keys of the given ids.

    The queue's shard-count record (written when the client connected) is left out.
    """
    redis, keys = client.redis, QueueKeys(client.queue_name)
    found = {k async for k in redis.scan_iter(match=f"*{client.queue_name}*", count=1000)}
    found.discard(keys.meta.encode())
    for job_id in job_ids:
        for key in (keys.job(job_id), keys.result(job_id)):
            if await redis.exists(key):
                found.add(key.encode())
    return found


async def store_result(client: StorageJobsClient, job_id: str, ok: bool, value: Any) -> None:
    """Writes a result the way arq does, through the JSON codec."""
    now = int(time.time() * 1000)
    raw = encode(
        {
            "t": 1,
            "f": "storage_jobs.delete",
            "a": [DELETE.model_dump_json()],
            "k": {},
            "et": now,
            "s": ok,
            "r": value,
            "st": now,
            "ft": now,
            "q": client.queue_name,
        }
    )
    await client.redis.set(QueueKeys.result(job_id), raw, ex=60)


@pytest.mark.integration
async def test_enqueue_writes_a_json_job(client: StorageJobsClient) -> None:
    """The stored job is JSON (no pickle) naming the registry's function, payload intact."""
    handle = await client.enqueue(DELETE)
    assert handle.enqueued
    raw = await client.redis.get(QueueKeys.job(handle.job_id))
    assert raw is not None
    assert raw[:1] == b"{"
    data = decode(raw)
    assert data["f"] == spec_for_job(DELETE).function_name == "storage_jobs.delete"
    assert data["k"] == {}
    (payload,) = data["a"]
    assert job_adapter.validate_json(payload) == DELETE
    score = await client.redis.zscore(client.queue_name, handle.job_id)
    assert score is not None
    assert abs(score - time.time() * 1000) < 5000
    # A queued payload outlives a short result TTL (600 s here): it lives QUEUED_JOB_MIN_TTL.
    ttl_ms = await client.redis.pttl(QueueKeys.job(handle.job_id))
    assert (QUEUED_JOB_MIN_TTL - 10) * 1000 < ttl_ms <= QUEUED_JOB_MIN_TTL * 1000
    wake = client.redis.lrange(client.keys.wake, 0, -1)
    assert await cast(Awaitable[list[bytes]], wake) == [b"1"]
    assert await handle.status() is JobStatus.QUEUED


@pytest.mark.integration
async def test_same_job_id_runs_once(client: StorageJobsClient) -> None:
    """A second enqueue with the same id adds nothing and keeps the first payload."""
    job_id = f"{client.queue_name}-once"
    first = await client.enqueue(DELETE, job_id=job_id)
    second = await client.enqueue(DeleteJob(bucket="other", keys=["z"]), job_id=job_id)
    assert (first.job_id, first.enqueued) == (job_id, True)
    assert (second.job_id, second.enqueued) == (job_id, False)
    assert await client.redis.zcard(client.queue_name) == 1
    raw = await client.redis.get(QueueKeys.job(job_id))
    assert raw is not None
    assert job_adapter.validate_json(decode(raw)["a"][0]) == DELETE


@pytest.mark.integration
async def test_finished_job_id_is_not_enqueued_again(client: StorageJobsClient) -> None:
    """An id that already has a result is not run again."""
    job_id = f"{client.queue_name}-finished"
    await store_result(client, job_id, True, DeleteResult(bucket="bkt", deleted_count=2))
    handle = await client.enqueue(DELETE, job_id=job_id)
    assert handle.enqueued is False
    assert await client.redis.zcard(client.queue_name) == 0


@pytest.mark.integration
async def test_rejected_job_writes_nothing(client: StorageJobsClient) -> None:
    """Inline data over max_inline_bytes raises JobRejectedError and touches no key."""
    job_id = f"{client.queue_name}-big"
    before = await our_keys(client, job_id)
    big = UploadJob(bucket="bkt", key="k", data=b"x" * 1025)
    with pytest.raises(JobRejectedError) as info:
        await client.enqueue(big, job_id=job_id)
    assert info.value.field == "data"
    with pytest.raises(JobRejectedError):
        await client.enqueue_many([DELETE, DELETE, big])
    assert await our_keys(client, job_id) == before == set()


@pytest.mark.integration
async def test_bad_arguments_are_refused(client: StorageJobsClient) -> None:
    """A non-job raises TypeError and a negative defer_by ValueError, enqueueing nothing."""
    with pytest.raises(TypeError, match="not a storage job"):
        await client.enqueue(DeleteResult(bucket="bkt", deleted_count=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="defer_by must be >= 0"):
        await client.enqueue(DELETE, defer_by=-1)
    assert await client.redis.zcard(client.queue_name) == 0


@pytest.mark.integration
async def test_enqueue_many_pipelines_per_batch(
    client: StorageJobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,500 jobs go out in one round trip of 5 script calls of 600 jobs at most.

    Every one is enqueued, and no command has over 3,999 arguments (ElastiCache Serverless's
    limit).
    """
    executions: list[int] = []
    longest: list[int] = []
    real_execute = redis.asyncio.client.Pipeline.execute

    async def counting_execute(self: Any, raise_on_error: bool = True) -> Any:
        executions.append(len(self.command_stack))
        longest.append(max(len(args) for args, _ in self.command_stack))
        return await real_execute(self, raise_on_error)

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", counting_execute)
    jobs = [CopyJob(src_bucket="bkt", src_key=f"s{i}", dst_key=f"d{i}") for i in range(2500)]
    handles = await client.enqueue_many(jobs)
    monkeypatch.undo()
    assert executions == [5]
    assert 3_000 < max(longest) <= 3_999
    assert len(handles) == 2500
    assert all(h.enqueued for h in handles)
    assert len({h.job_id for h in handles}) == 2500
    assert await client.redis.zcard(client.queue_name) == 2500
    raw = await client.redis.get(QueueKeys.job(handles[1234].job_id))
    assert raw is not None
    assert job_adapter.validate_json(decode(raw)["a"][0]) == jobs[1234]


@pytest.mark.integration
async def test_defer_by_sets_a_future_score(client: StorageJobsClient) -> None:
    """defer_by puts the run time in the future; the job reads DEFERRED, not QUEUED."""
    before = time.time() * 1000
    handle = await client.enqueue(DELETE, defer_by=60)
    score = await client.redis.zscore(client.queue_name, handle.job_id)
    assert score is not None
    assert before + 59_000 <= score <= time.time() * 1000 + 60_000
    assert await handle.status() is JobStatus.DEFERRED
    assert await client.status(handle.job_id) is JobStatus.DEFERRED


@pytest.mark.integration
async def test_status_follows_the_job(client: StorageJobsClient) -> None:
    """Queued, in progress, complete, failed (result or dead letter) and unknown ids."""
    handle = await client.enqueue(DELETE, job_id=f"{client.queue_name}-life")
    assert await handle.status() is JobStatus.QUEUED
    await client.redis.set(QueueKeys.in_progress(handle.job_id), b"1", ex=60)
    assert await handle.status() is JobStatus.IN_PROGRESS
    await store_result(client, handle.job_id, True, DeleteResult(bucket="bkt", deleted_count=2))
    assert await handle.status() is JobStatus.COMPLETE

    failed_id = f"{client.queue_name}-failed"
    await store_result(client, failed_id, False, JobFailure("InvalidPayload", "bad"))
    assert await client.status(failed_id) is JobStatus.FAILED

    dead_id = f"{client.queue_name}-dead"
    await DeadLetterStore(client.redis, client.queue_name).add(
        job_id=dead_id,
        function="storage_jobs.delete",
        raw_payload=b"{}",
        error_type="X",
        message="",
    )
    assert await client.status(dead_id) is JobStatus.FAILED
    assert await client.status(f"{client.queue_name}-nobody") is JobStatus.NOT_FOUND


@pytest.mark.integration
async def test_result_is_typed(client: StorageJobsClient) -> None:
    """A stored success comes back as the kind's result model."""
    job_id = f"{client.queue_name}-ok"
    expected = DeleteResult(bucket="bkt", deleted_count=2, attempts=1)
    await store_result(client, job_id, True, expected.model_dump(mode="json"))
    result = await client.handle(job_id).result(timeout=1)
    assert isinstance(result, DeleteResult)
    assert result == expected


@pytest.mark.integration
async def test_failed_result_raises_job_failed_error(client: StorageJobsClient) -> None:
    """A stored failure raises JobFailedError with the error's type, code and message."""
    job_id = f"{client.queue_name}-ko"
    failure = JobFailure("StorageObjectNotFoundError", "object not found: bkt/a", "NoSuchKey")
    await store_result(client, job_id, False, failure)
    with pytest.raises(JobFailedError) as info:
        await client.handle(job_id).result(timeout=1)
    assert (info.value.job_id, info.value.error_type, info.value.code, info.value.message) == (
        job_id,
        "StorageObjectNotFoundError",
        "NoSuchKey",
        "object not found: bkt/a",
    )


@pytest.mark.integration
async def test_dead_letter_without_result_raises(client: StorageJobsClient) -> None:
    """A dead-lettered job whose result is gone still fails the waiting producer."""
    job_id = f"{client.queue_name}-lost"
    await DeadLetterStore(client.redis, client.queue_name).add(
        job_id=job_id,
        function="storage_jobs.copy",
        raw_payload=b"{}",
        error_type="InvalidPayload",
        message="kind: bad",
    )
    with pytest.raises(JobFailedError) as info:
        await client.handle(job_id).result(timeout=1)
    assert (info.value.error_type, info.value.message) == ("InvalidPayload", "kind: bad")


@pytest.mark.integration
async def test_result_times_out(client: StorageJobsClient) -> None:
    """Waiting on a job nobody runs raises TimeoutError after about the timeout."""
    handle = await client.enqueue(DELETE)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=handle.job_id):
        await handle.result(timeout=0.1)
    assert 0.09 <= time.monotonic() - started < 1.0


@pytest.mark.integration
def test_sync_client_from_plain_code(client: StorageJobsClient, settings: Settings) -> None:
    """The blocking facade enqueues and reads status from code without an event loop."""
    with SyncStorageJobsClient(settings=settings) as jobs:
        handle = jobs.enqueue(DELETE, job_id=f"{settings.queue_name}-sync")
        assert handle.enqueued
        assert handle.status() is JobStatus.QUEUED
        assert jobs.enqueue(DELETE, job_id=handle.job_id).enqueued is False
        many = jobs.enqueue_many([DELETE, DELETE])
        assert [h.enqueued for h in many] == [True, True]
        assert jobs.handle("unknown-id").status() is JobStatus.NOT_FOUND
        with pytest.raises(TimeoutError):
            handle.result(timeout=0.05)
    jobs.close()  # closing twice is harmless


def test_overrides_and_repr() -> None:
    """redis_url/queue_name override the settings; repr shows the URL without its password."""
    base = Settings(queue_name="from-settings", max_inline_bytes=7)
    url = "redis://:hunter22@127.0.0.1:6379/13"
    client = StorageJobsClient(redis_url=url, queue_name="q", settings=base)
    assert (client.queue_name, client.settings.redis_url.get_secret_value()) == ("q", url)
    assert client.limits.max_inline_bytes == 7
    assert "hunter22" not in repr(client)
    assert "'q'" in repr(client)
    with pytest.raises(RuntimeError, match="not connected"):
        _ = client.redis


@pytest.mark.integration
async def test_the_same_id_twice_in_one_batch_is_enqueued_once(client: StorageJobsClient) -> None:
    """Within one script call, a repeated id is added once; the second handle says so."""
    jobs = [CopyJob(src_bucket="bkt", src_key="a", dst_key=f"d{i}") for i in range(3)]
    handles = await client.enqueue_many(jobs, job_ids=["same", "other", "same"])
    assert [h.enqueued for h in handles] == [True, True, False]
    raw = await client.redis.get(QueueKeys.job("same"))
    assert raw is not None
    assert job_adapter.validate_json(decode(raw)["a"][0]) == jobs[0]
    assert await client.redis.zcard(client.queue_name) == 2
