"""Leases: a worker that stalls past its lease gives the job up to the worker that took it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from arq.constants import in_progress_key_prefix, result_key_prefix

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import DeleteJob, UploadJob
from storage_jobs.storage import DELETE_BATCH_SIZE, StorageClient
from tests.fixtures_e2e import put_many
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]

HOLD_S = 9.0  # how long the stalled worker's last request is held by its proxy


@dataclass
class HoldFrom(FaultRules):
    """Delays matching requests by ``latency_s``, and from the ``hold_from``-th on by ``hold_s``.

    Chosen per request on arrival, so which request is held does not depend on timing.
    """

    hold_from: int = 1
    hold_s: float = HOLD_S
    arrivals: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Counts matching requests and sets the latency of this one (read right after)."""
        if not super().matches(method, path):
            return False
        self.arrivals += 1
        if self.arrivals >= self.hold_from:
            self.latency_s = self.hold_s
        return True


@pytest.fixture
def second_proxy(seaweedfs: SeaweedFS) -> Iterator[FaultProxy]:
    """Another FaultProxy in front of SeaweedFS, so each worker's requests are logged apart."""
    proxy = FaultProxy(
        seaweedfs.endpoint_url, credentials=(seaweedfs.access_key, seaweedfs.secret_key)
    )
    proxy.start_in_thread()
    try:
        yield proxy
    finally:
        proxy.stop_thread()


async def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.005)


def _events(worker: WorkerProcess, event: str, job_id: str) -> list[dict[str, object]]:
    return [e for e in worker.events() if e.get("event") == event and e.get("job_id") == job_id]


async def test_stalled_worker_cancels_when_its_lease_is_taken(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
    fault_proxy: FaultProxy,
    second_proxy: FaultProxy,
) -> None:
    """SIGSTOP past the lease, another worker takes the job, SIGCONT: the first one gives up.

    Each worker talks to S3 through a proxy of its own, so the proxies' logs say which worker
    sent which DeleteObjects. The stalled worker is stopped while its proxy holds one of its
    requests for ``HOLD_S``; once resumed it must find its lease gone and cancel the run before
    that request is answered, so it sends nothing more and writes no result.
    """
    keys = [f"lease/{i:05d}" for i in range(4 * DELETE_BATCH_SIZE)]
    batches = [keys[i : i + DELETE_BATCH_SIZE] for i in range(0, len(keys), DELETE_BATCH_SIZE)]
    # DeleteObjects answers "deleted" for absent keys too; a few real objects per batch show
    # the deletes happened (putting all 4,000 would take most of the test's time).
    await put_many(admin_storage, bucket, keys[::100])
    # The first worker's first two DeleteObjects go through; its third is held.
    fault_proxy.rules = HoldFrom(latency_s=0.2, methods=frozenset({"POST"}), hold_from=3)
    env = {"STORAGE_JOBS_S3_DELETE_CONCURRENCY": "1"}  # lease 3 s (worker_env)
    first = start_worker(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **env)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    await _wait(lambda: bool(_events(first, "job.start", handle.job_id)), 30, "job.start")
    second = start_worker(STORAGE_JOBS_S3_ENDPOINT_URL=second_proxy.url, **env)
    # Slow enough that the second worker still runs the job when the first one resumes.
    second_proxy.rules.latency_s = 1.0
    second_proxy.rules.methods = frozenset({"POST"})

    await _wait(lambda: fault_proxy.stats["requests"] >= 3, 30, "held request")
    held_at = time.monotonic()
    os.kill(first.pid, signal.SIGSTOP)
    try:
        requests_at_stop = fault_proxy.stats["requests"]
        answered = len(fault_proxy.delete_batches)  # the held request is logged when forwarded
        # The lease lapses; the second worker takes the job. Resume the first while the second
        # is still running it, so a first worker that touched the job's keys would be seen.
        await _wait(lambda: bool(_events(second, "job.start", handle.job_id)), 15, "takeover")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    resumed_at = time.monotonic()
    assert resumed_at - held_at < HOLD_S - 2, "the held request was answered too early"
    await _wait(lambda: bool(_events(first, "lease.lost", handle.job_id)), 5, "lease.lost")
    result = await handle.result(timeout=30)
    raw_result = await jobs.redis.get(result_key_prefix + handle.job_id)
    assert raw_result is not None
    # Past the held request's answer: a first worker still running the job would now record it
    # and send its next batch.
    await asyncio.sleep(max(0.0, held_at + HOLD_S + 2 - time.monotonic()))

    assert fault_proxy.stats["requests"] == requests_at_stop, "stalled worker sent more"
    assert not _events(first, "job.done", handle.job_id)
    assert [e["attempt"] for e in _events(second, "job.start", handle.job_id)] == [2]
    assert not _events(second, "lease.lost", handle.job_id)  # the first left its lease alone
    assert await jobs.redis.get(result_key_prefix + handle.job_id) == raw_result  # only one result
    assert await jobs.redis.zscore(queue_name, handle.job_id) is None  # not re-queued
    assert await jobs.redis.exists(in_progress_key_prefix + handle.job_id) == 0
    assert result.deleted_count == len(keys) and result.failed == []
    assert await admin_storage.list_files(bucket=bucket, prefix="lease/") == []

    # Each batch went out once, but for the one the first worker had in flight when it stalled,
    # which the second worker resent because its answer was never recorded.
    assert (answered, requests_at_stop) == (2, 3)  # only DeleteObjects, the third one held
    assert fault_proxy.delete_batches[:answered] == batches[:answered]
    assert second_proxy.delete_batches == batches[answered:]
    first_sent = batches[: answered + 1]
    times_sent = Counter(k for batch in first_sent + second_proxy.delete_batches for k in batch)
    assert {k for k, n in times_sent.items() if n > 1} == set(batches[answered])
    assert set(times_sent) == set(keys)


async def test_a_crash_between_the_upload_and_its_result_ends_with_one_result(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
    fault_proxy: FaultProxy,
) -> None:
    """SIGKILL after S3 stored the object, before the worker heard so: the job runs again.

    The first worker's PUT reaches S3 (the object is there) but its answer is held, so the
    worker dies with the S3 work done and no result written. Its lease lapses and the second
    worker re-runs the upload (idempotent: the same bytes to the same key) and writes the one
    result, as attempt 2.
    """
    fault_proxy.rules.methods = frozenset({"PUT"})
    fault_proxy.rules.answer_delay_s = 60.0
    lease = {"STORAGE_JOBS_LEASE_SECONDS": "10"}
    first = start_worker(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **lease)
    handle = await jobs.enqueue(UploadJob(bucket=bucket, key="once.txt", data=b"exactly once"))
    await _wait(lambda: bool(_events(first, "job.start", handle.job_id)), 30, "job.start")
    deadline = time.monotonic() + 30
    while not await admin_storage.file_exists(bucket=bucket, key="once.txt"):
        assert time.monotonic() < deadline, "the upload never reached S3"
        await asyncio.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    fault_proxy.rules.answer_delay_s = 0  # the dead worker's answer is let go, to no one
    assert await jobs.redis.get(result_key_prefix + handle.job_id) is None  # no result yet

    second = start_worker(**lease)  # straight to S3
    result = await handle.result(timeout=60)
    assert result.size == len(b"exactly once")
    assert not _events(first, "job.done", handle.job_id)
    assert [e["attempt"] for e in _events(second, "job.start", handle.job_id)] == [2]
    assert len(_events(second, "job.done", handle.job_id)) == 1
    assert await admin_storage.fetch_file(bucket=bucket, key="once.txt") == b"exactly once"
    assert await jobs.redis.exists(result_key_prefix + handle.job_id) == 1
    assert await jobs.redis.zscore(queue_name, handle.job_id) is None
    assert await jobs.redis.exists(in_progress_key_prefix + handle.job_id) == 0
