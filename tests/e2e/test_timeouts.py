"""STORAGE_JOBS_JOB_TIMEOUT: a job running past it is cancelled, fails for good, is kept."""

from __future__ import annotations

import time

import pytest

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import DeadLetterStore
from storage_jobs.settings import Settings
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


TIMEOUT_S = 2.0
LATENCY_S = 6.0  # of each PUT through the proxy: far past the timeout


async def test_job_past_the_timeout_is_cancelled_and_dead_lettered(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    settings: Settings,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """An upload stuck in a slow PUT: cancelled at 2 s, not retried, failed with a dead letter.

    The docs: the job timeout is the time a job "may run before it is cancelled" (settings), and
    "a job that failed for good ... is kept with its payload, error and attempts" (jobs.md).
    """
    fault_proxy.rules.latency_s = LATENCY_S
    fault_proxy.rules.methods = frozenset({"PUT"})
    worker = await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_JOB_TIMEOUT=str(TIMEOUT_S)
    )
    started = time.monotonic()
    job = UploadJob(bucket=bucket, key="slow", data=b"slow")
    handle = await jobs.enqueue(job)
    with pytest.raises(JobFailedError) as failed:
        await handle.result(timeout=LATENCY_S + 20)
    elapsed = time.monotonic() - started
    assert failed.value.error_type == "TimeoutError"
    assert TIMEOUT_S <= elapsed < LATENCY_S, f"failed after {elapsed:.1f} s"
    assert await handle.status() == JobStatus.FAILED

    # Failed for good at the first attempt: a timeout is not retried.
    events = [e for e in worker.events() if e.get("job_id") == handle.job_id]
    assert [e["event"] for e in events if e["event"].startswith("job.")].count("job.start") == 1
    assert not [e for e in events if e["event"] == "job.retry"]
    assert fault_proxy.stats["requests"] == 1

    letter = await DeadLetterStore(jobs.redis, settings.queue_name).get(handle.job_id)
    assert letter is not None, "a timed-out job left no dead letter"
    assert (letter.error_type, letter.attempts) == ("TimeoutError", 1)
    assert letter.payload is not None and UploadJob.model_validate_json(letter.payload) == job

    # The worker is not stuck in the cancelled job: the next one runs.
    fault_proxy.rules.latency_s = 0
    after = await jobs.enqueue(UploadJob(bucket=bucket, key="quick", data=b"ok"))
    assert (await after.result(timeout=20)).size == 2
