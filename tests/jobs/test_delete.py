"""The delete handler against moto (S3) and fakeredis: batches, per-key retries, resume."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from storage_jobs.jobs import DeleteFailure, DeleteJob, JobCancelled
from storage_jobs.jobs._delete import run_delete
from storage_jobs.queue import state_key
from storage_jobs.storage import (
    DELETE_BATCH_SIZE,
    StorageBucketNotFoundError,
    StorageClient,
    StorageConfig,
    StoragePartialDeleteError,
)
from tests.jobs.conftest import RecordingLog, make_ctx

Script = Callable[[str, int], str | None]
"""(key, how many times this key was sent) -> an error code to fail it with, or None."""


class Crash(Exception):
    """Stands in for a worker dying mid-job."""


class ScriptedDeletes:
    """Replaces ``delete_files``: records each call and fails chosen keys with chosen codes."""

    def __init__(
        self, storage: StorageClient, script: Script | None = None, crash_on_call: int = 0
    ) -> None:
        self.storage = storage  # the real method, even when another fake is installed
        self.script = script or (lambda key, n: None)
        self.crash_on_call = crash_on_call
        self.calls: list[list[str]] = []
        self.sent: Counter[str] = Counter()

    async def __call__(self, *, bucket: str, keys: Iterable[str]) -> list[str]:
        batch = list(keys)
        self.calls.append(batch)
        if len(self.calls) == self.crash_on_call:
            raise Crash(f"worker died during call {self.crash_on_call}")
        errors, ok = [], []
        for key in batch:
            self.sent[key] += 1
            code = self.script(key, self.sent[key])
            if code is None:
                ok.append(key)
            else:
                errors.append({"key": key, "code": code, "message": f"{code} for {key}"})
        deleted = (
            await StorageClient.delete_files(self.storage, bucket=bucket, keys=ok) if ok else []
        )
        if errors:
            raise StoragePartialDeleteError(errors, deleted, bucket=bucket)
        return deleted


def scripted(
    monkeypatch: pytest.MonkeyPatch, storage: StorageClient, **kwargs: Any
) -> ScriptedDeletes:
    fake = ScriptedDeletes(storage, **kwargs)
    monkeypatch.setattr(storage, "delete_files", fake)
    return fake


async def put_all(storage: StorageClient, bucket: str, keys: Iterable[str]) -> None:
    await asyncio.gather(*(storage.upload_file(bucket=bucket, key=k, data=b"x") for k in keys))


async def test_all_keys_deleted_in_batches_of_1000(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """2,345 unique keys (plus a duplicate) go out in ceil(n/1000) DeleteObjects batches."""
    keys = [f"obj/{i:05d}" for i in range(2345)]
    real = [keys[0], keys[1500], keys[-1]]
    await put_all(moto_client, moto_bucket, real)
    fake = scripted(monkeypatch, moto_client)
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    result = await run_delete(DeleteJob(bucket=moto_bucket, keys=[*keys, keys[7]]), ctx)
    assert len(fake.calls) == math.ceil(len(keys) / DELETE_BATCH_SIZE) == 3
    assert sorted(len(c) for c in fake.calls) == [345, 1000, 1000]
    assert sorted(k for c in fake.calls for k in c) == keys
    assert (result.deleted_count, result.failed, result.attempts) == (2345, [], 1)
    for key in real:
        assert not await moto_client.file_exists(bucket=moto_bucket, key=key)
    assert recording_log.named("delete.partial_failure") == []
    (done,) = recording_log.named("delete.done")
    assert done == {
        "bucket": moto_bucket,
        "keys": 2345,
        "deleted": 2345,
        "failed": 0,
        "attempts": 1,
    }
    # Finished state is kept only briefly (a re-run must still find it done).
    assert 0 < await fake_redis.ttl(state_key(ctx.job_id, "delete:done")) <= 3600


async def test_only_retryable_keys_are_retried(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """InternalError keys are retried once and deleted; AccessDenied keys fail at once."""
    keys = [f"k{i:02d}" for i in range(10)]
    flaky, denied = {"k01", "k02"}, {"k05", "k06"}
    await put_all(moto_client, moto_bucket, keys)

    def script(key: str, sent: int) -> str | None:
        if key in denied:
            return "AccessDenied"
        return "InternalError" if key in flaky and sent == 1 else None

    fake = scripted(monkeypatch, moto_client, script=script)
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    result = await run_delete(DeleteJob(bucket=moto_bucket, keys=keys), ctx)
    assert result.failed == [
        DeleteFailure(key=k, code="AccessDenied", message=f"AccessDenied for {k}")
        for k in sorted(denied)
    ]
    assert result.deleted_count == 8
    assert result.attempts == 2
    assert [sorted(c) for c in fake.calls] == [keys, sorted(flaky)]
    for key in flaky:
        assert not await moto_client.file_exists(bucket=moto_bucket, key=key)
    for key in denied:
        assert await moto_client.file_exists(bucket=moto_bucket, key=key)
    (retry_round,) = recording_log.named("delete.retry_round")
    assert (retry_round["round"], retry_round["keys"]) == (2, 2)
    assert [level for level, name, _ in recording_log.events if name == "delete.done"] == [
        "warning"
    ]


async def test_partial_failures_are_logged_with_counts_and_errors(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """Each partial DeleteObjects answer logs delete.partial_failure with counts and errors."""
    codes = {"a": "SlowDown", "b": "AccessDenied", "c": "NoSuchBucketPolicy"}
    scripted(monkeypatch, moto_client, script=lambda key, n: codes.get(key) if n == 1 else None)
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    await run_delete(DeleteJob(bucket=moto_bucket, keys=["a", "b", "c", "d"]), ctx)
    first, *rest = recording_log.named("delete.partial_failure")
    assert rest == []  # the retry of "a" succeeded
    assert {k: v for k, v in first.items() if k != "errors"} == {
        "bucket": moto_bucket,
        "batch_keys": 4,
        "deleted": 1,
        "failed": 3,
        "retryable": 1,
        "permanent": 2,
    }
    assert sorted((e["key"], e["code"]) for e in first["errors"]) == sorted(codes.items())
    assert all(e["message"] == f"{e['code']} for {e['key']}" for e in first["errors"])


async def test_exhausted_retries_report_the_last_code(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """A key failing every round ends with the last round's code after max_attempts rounds."""
    codes = {1: "SlowDown", 2: "InternalError", 3: "ServiceUnavailable"}

    def script(key: str, sent: int) -> str | None:
        if key == "stuck":
            return codes[sent]
        if key == "turns-denied":
            return "InternalError" if sent == 1 else "AccessDenied"
        return None

    fake = scripted(monkeypatch, moto_client, script=script)
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    job = DeleteJob(bucket=moto_bucket, keys=["ok", "stuck", "turns-denied"])
    result = await run_delete(job, ctx)
    assert result.failed == [
        DeleteFailure(
            key="stuck", code="ServiceUnavailable", message="ServiceUnavailable for stuck"
        ),
        DeleteFailure(
            key="turns-denied", code="AccessDenied", message="AccessDenied for turns-denied"
        ),
    ]
    assert (result.deleted_count, result.attempts) == (1, 3)
    assert [sorted(c) for c in fake.calls] == [
        ["ok", "stuck", "turns-denied"],
        ["stuck", "turns-denied"],
        ["stuck"],
    ]
    assert await fake_redis.scard(state_key(ctx.job_id, "delete:retry")) == 0


async def test_resume_after_crash_skips_recorded_batches(
    monkeypatch: pytest.MonkeyPatch,
    moto_config: StorageConfig,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """A re-run with the same job id does not resend first-round batches already recorded."""
    config = moto_config.model_copy(update={"delete_concurrency": 1})
    job = DeleteJob(bucket=moto_bucket, keys=[f"r/{i:04d}" for i in range(1500)])
    job_id = uuid.uuid4().hex
    async with StorageClient(config) as storage:
        crashing = scripted(monkeypatch, storage, crash_on_call=2)
        with pytest.raises(Crash):
            await run_delete(job, make_ctx(storage, fake_redis, recording_log, job_id=job_id))
        recorded, lost = crashing.calls
        assert len(recorded) == 1000
        assert len(lost) == 500

        rerun = scripted(monkeypatch, storage)
        ctx = make_ctx(storage, fake_redis, recording_log, job_id=job_id)
        result = await run_delete(job, ctx)
    assert rerun.calls == [lost]
    assert (result.deleted_count, result.failed, result.attempts) == (1500, [], 1)


async def test_resume_in_a_retry_round_sends_only_pending_keys(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """A crash during a retry round resumes with only the keys still to retry."""
    job = DeleteJob(bucket=moto_bucket, keys=["a", "b", "flaky"])
    job_id = uuid.uuid4().hex

    def script(key: str, sent: int) -> str | None:
        return "SlowDown" if key == "flaky" else None

    crashing = scripted(monkeypatch, moto_client, script=script, crash_on_call=2)
    with pytest.raises(Crash):
        await run_delete(job, make_ctx(moto_client, fake_redis, recording_log, job_id=job_id))
    assert [sorted(c) for c in crashing.calls] == [["a", "b", "flaky"], ["flaky"]]

    rerun = scripted(monkeypatch, moto_client)
    result = await run_delete(job, make_ctx(moto_client, fake_redis, recording_log, job_id=job_id))
    assert rerun.calls == [["flaky"]]
    # The crashed round counts as used: rounds 1 and 2 before the crash, 3 after.
    assert (result.deleted_count, result.failed, result.attempts) == (3, [], 3)


async def test_rerun_of_a_finished_job_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """A finished job re-run (crash before arq stored the result) returns the same result."""
    job = DeleteJob(bucket=moto_bucket, keys=["a", "b"])
    scripted(monkeypatch, moto_client, script=lambda k, n: "AccessDenied" if k == "b" else None)
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    first = await run_delete(job, ctx)
    again = scripted(monkeypatch, moto_client)
    assert await run_delete(job, ctx) == first
    assert again.calls == []
    assert [f.key for f in first.failed] == ["b"]


async def test_missing_bucket_raises(
    moto_client: StorageClient, fake_redis: Any, recording_log: RecordingLog
) -> None:
    """A delete in a bucket that does not exist fails as a whole."""
    ctx = make_ctx(moto_client, fake_redis, recording_log)
    with pytest.raises(StorageBucketNotFoundError):
        await run_delete(DeleteJob(bucket=f"missing-{uuid.uuid4().hex[:8]}", keys=["a"]), ctx)


async def test_failed_batch_stops_the_other_batches(
    monkeypatch: pytest.MonkeyPatch,
    moto_config: StorageConfig,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """Once run_delete has raised, no batch of that run is still sending deletes."""
    config = moto_config.model_copy(update={"delete_concurrency": 1})
    job = DeleteJob(bucket=moto_bucket, keys=[f"o/{i:04d}" for i in range(2500)])
    async with StorageClient(config) as storage:
        fake = scripted(monkeypatch, storage, crash_on_call=1)
        with pytest.raises(Crash):
            await run_delete(job, make_ctx(storage, fake_redis, recording_log))
        calls_when_raised = len(fake.calls)
        await asyncio.sleep(0.5)
    # Batch 2 may already be in flight when the error surfaces; batch 3 must never start.
    assert len(fake.calls) == calls_when_raised < 3


class CancelAfter:
    """A JobControl that reads cancelled once ``calls`` DeleteObjects requests were sent."""

    def __init__(self, fake: ScriptedDeletes, calls: int) -> None:
        self.fake = fake
        self.calls = calls

    async def cancelled(self) -> bool:
        return len(self.fake.calls) >= self.calls

    async def paused(self) -> bool:
        return False

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Nothing to cancel."""

    async def unfinished(self, job_ids: Sequence[str]) -> list[str]:
        return []


async def test_cancel_stops_between_requests_and_reports_what_was_deleted(
    monkeypatch: pytest.MonkeyPatch,
    moto_client: StorageClient,
    moto_bucket: str,
    fake_redis: Any,
    recording_log: RecordingLog,
) -> None:
    """No request after the cancel is seen; those sent are answered and listed as deleted."""
    keys = [f"obj/{i:05d}" for i in range(9500)]
    await put_all(moto_client, moto_bucket, keys[::500])
    fake = scripted(
        monkeypatch, moto_client, script=lambda key, n: "AccessDenied" if key == keys[3] else None
    )
    ctx = replace(make_ctx(moto_client, fake_redis, recording_log), control=CancelAfter(fake, 1))
    with pytest.raises(JobCancelled) as caught:
        await run_delete(DeleteJob(bucket=moto_bucket, keys=keys), ctx)
    sent = [k for call in fake.calls for k in call]
    assert 1 <= len(fake.calls) <= moto_client.config.delete_concurrency < 10
    expected = sorted(set(sent) - {keys[3]})  # a key that failed is not reported deleted
    assert sorted(caught.value.progress["deleted_keys"]) == expected
    assert caught.value.progress["deleted_count"] == len(expected)
    for key in keys[::500]:
        assert await moto_client.file_exists(bucket=moto_bucket, key=key) == (key not in sent)
