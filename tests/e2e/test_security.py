"""Hostile and bad input: refused at enqueue, or kept as a dead letter and never run."""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import DeleteJob, JobRejectedError, UploadJob
from storage_jobs.queue import DeadLetterStore
from storage_jobs.settings import Settings
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


class _Marker:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


async def _write_raw_job(jobs: StorageJobsClient, job_id: str, raw: bytes) -> None:
    keys = jobs.keys
    await jobs.redis.psetex(keys.job(job_id), 60_000, raw)
    await jobs.redis.zadd(jobs.queue_name, {job_id: int(time.time() * 1000)})
    await jobs.redis.lpush(keys.wake, "1")  # type: ignore[misc]


async def test_pickle_and_garbage_payloads_never_run(
    start_in_process: StartInProcess, jobs: StorageJobsClient, bucket: str, tmp_path: Path
) -> None:
    """Pickles, garbage and unknown kinds written straight into Redis are dead-lettered unrun."""
    marker = tmp_path / "pwned"
    worker = await start_in_process()
    evil = pickle.dumps(
        {"t": 1, "f": "storage_jobs.delete", "a": [_Marker(str(marker))], "k": {}, "et": 0}
    )
    await _write_raw_job(jobs, "evil-pickle", evil)
    await _write_raw_job(jobs, "garbage", b"\x00\xff not json at all")
    unknown = b'{"t":1,"f":"os.system","a":["touch x"],"k":{},"et":0}'
    await _write_raw_job(jobs, "unknown-function", unknown)
    wrong_kind = b'{"t":1,"f":"storage_jobs.delete","a":["{\\"kind\\":\\"nuke\\"}"],"k":{},"et":0}'
    await _write_raw_job(jobs, "unknown-kind", wrong_kind)
    bomb = b'{"t":1,"f":"storage_jobs.delete","a":[' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    await _write_raw_job(jobs, "json-bomb", bomb)

    store = DeadLetterStore(jobs.redis, jobs.queue_name)
    expected = {"evil-pickle", "garbage", "unknown-function", "unknown-kind", "json-bomb"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and {d.job_id for d in await store.list()} != expected:
        await asyncio.sleep(0.1)
    letters = {d.job_id: d for d in await store.list()}
    assert set(letters) == expected
    assert letters["evil-pickle"].raw_payload() == evil  # kept for inspection
    assert letters["evil-pickle"].error_type == "InvalidPayload"
    assert letters["unknown-kind"].error_type == "InvalidPayload"
    assert not marker.exists()
    for job_id in expected:
        with pytest.raises(JobFailedError):
            await jobs.handle(job_id).result(timeout=5)
    # The worker is still alive and working.
    ok = await jobs.enqueue(UploadJob(bucket=bucket, key="after", data=b"ok"))
    assert (await ok.result(timeout=20)).size == 2
    assert worker.running()
    assert not any(
        e.get("event") == "job.start" and e.get("kind") == "delete" for e in worker.events()
    )


async def _keys(jobs: StorageJobsClient) -> set[bytes]:
    # Only this test's keys: the database is shared with tests running side by side. Its job
    # ids start with the queue name, so arq's per-job keys match too.
    return set(await jobs.redis.keys(f"*{jobs.queue_name}*"))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: UploadJob(bucket="Bad_Bucket", key="k", data=b"x"), "bucket"),
        (lambda: UploadJob(bucket="ok-bucket", key="", data=b"x"), "key"),
        (lambda: UploadJob(bucket="ok-bucket", key="a\x00b", data=b"x"), "key"),
        (lambda: UploadJob(bucket="ok-bucket", key="k" * 1025, data=b"x"), "key"),
        (lambda: UploadJob(bucket="ok-bucket", key="k"), "data"),
        (lambda: UploadJob(bucket="ok-bucket", key="k", path="../etc/passwd"), "path"),
        (lambda: DeleteJob(bucket="ok-bucket", keys=[]), "keys"),
        (lambda: DeleteJob(bucket="ok-bucket", keys="notalist"), "keys"),
    ],
)
def test_invalid_jobs_fail_on_construction(build: Callable[[], Any], field: str) -> None:
    """Bad payloads raise a ValidationError naming the field, before any enqueue."""
    with pytest.raises(ValidationError) as info:
        build()
    assert field in str(info.value)


async def test_jobs_breaking_limits_are_refused_with_nothing_written(
    settings: Settings, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    """Limit breaches raise JobRejectedError at enqueue and write nothing to Redis."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    (root / "link").symlink_to(outside)
    limited = settings.model_copy(
        update={"upload_roots": [root], "max_inline_bytes": 10, "max_payload_bytes": 2048}
    )
    async with StorageJobsClient(settings=limited) as jobs:
        before = await _keys(jobs)
        cases = [
            (UploadJob(bucket="ok-bucket", key="k", data=b"x" * 11), "data"),
            (UploadJob(bucket="ok-bucket", key="k", path=str(outside)), "path"),
            (UploadJob(bucket="ok-bucket", key="k", path=str(root / "link")), "path"),
            (UploadJob(bucket="ok-bucket", key="k", path=str(root / "missing")), "path"),
            (DeleteJob(bucket="ok-bucket", keys=[f"key-{n}" for n in range(300)]), "payload"),
        ]
        queue = jobs.queue_name
        for i, (job, field) in enumerate(cases):
            with pytest.raises(JobRejectedError) as info:
                await jobs.enqueue(job, job_id=f"{queue}-case{i}")
            assert info.value.field == field
        with pytest.raises(JobRejectedError):
            await jobs.enqueue_many(
                [UploadJob(bucket="ok-bucket", key="a", data=b"1"), cases[0][0]],
                job_ids=[f"{queue}-many0", f"{queue}-many1"],
            )
        assert await _keys(jobs) == before
        # The same filter sees what an accepted job writes: the queue and the job's own key.
        await jobs.enqueue(UploadJob(bucket="ok-bucket", key="k", data=b"ok"), job_id=f"{queue}-ok")
        assert await _keys(jobs) - before >= {queue.encode(), f"arq:job:{queue}-ok".encode()}
        await jobs.redis.delete(queue, f"arq:job:{queue}-ok")  # no worker will take it
