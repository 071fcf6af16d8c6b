"""Archived sources on moto's S3: restored once each, waited for off the queue, then copied.

moto completes a restore at once by default; these tests hold each restore in progress
(``x-amz-restore: ongoing-request="true"``, and CopyObject refused with
``ObjectNotInActiveTierError``) until they complete it in moto's backend, which its in-process
server shares. Every ``RestoreObject`` is counted per key there.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager
from moto.s3.models import FakeKey, s3_backends

from storage_jobs.client import JobCancelledError, JobStatus, StorageJobsClient
from storage_jobs.jobs import MigrateJob, batch_job_id
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import attempts_given_back, keys_left, report_of, run_cli, wait_until
from tests.workers import StartInProcess, StartWorker

pytestmark = pytest.mark.integration

WARM = [f"r/warm-{i}" for i in range(5)]
ARCHIVED = {"r/ice-0": "GLACIER", "r/ice-1": "GLACIER", "r/ice-2": "DEEP_ARCHIVE"}


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts RestoreObject calls per key; restores stay in progress until completed."""
    state_manager.set_transition("s3::keyrestore", {"progression": "manual", "times": 10**9})
    counted: Counter[str] = Counter()
    restore = FakeKey.restore

    def counting(self: FakeKey, days: int) -> None:
        counted[self.name] += 1
        restore(self, days)

    monkeypatch.setattr(FakeKey, "restore", counting)
    yield counted
    state_manager.unset_transition("s3::keyrestore")


@pytest.fixture
def moto_env(moto_endpoint: str, worker_env: dict[str, str]) -> dict[str, str]:
    """A worker of this test's queue on moto's S3."""
    return {
        **worker_env,
        "STORAGE_JOBS_S3_ENDPOINT_URL": moto_endpoint,
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": "testing",
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": "testing-secret",
        "STORAGE_JOBS_LEASE_SECONDS": "10",
    }


@pytest.fixture
async def buckets(moto_client: StorageClient) -> tuple[str, str]:
    """A source holding warm and archived objects (restores held in progress), an empty dst."""
    src, dst = f"src-{uuid.uuid4().hex[:10]}", f"dst-{uuid.uuid4().hex[:10]}"
    for name in (src, dst):
        await moto_client.s3.create_bucket(Bucket=name)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in WARM:
        backend.put_object(src, key, b"warm " + key.encode())
    for key, storage_class in ARCHIVED.items():
        fake = backend.put_object(src, key, b"ice " + key.encode(), storage=storage_class)
        fake.status = "IN_PROGRESS"  # what a restore reads as until complete_restores()
    return src, dst


def complete_restores(src: str) -> None:
    """Every restore of ``src`` done: its objects readable (and copyable) now."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in ARCHIVED:
        fake = backend.get_object(src, key)
        assert fake is not None
        fake.status = "RESTORED"


def migration(src: str, dst: str, **fields: Any) -> MigrateJob:
    return MigrateJob(
        src_bucket=src,
        src_prefix="r/",
        dst_bucket=dst,
        dst_prefix="r/",
        restore_archived=True,
        restore_tier="Bulk",
        restore_check_s=1,
        report="all",
        **fields,
    )


def waiting(jobs: StorageJobsClient, job_id: str, n: int) -> Callable[[], Any]:
    """True once the migration has ``n`` keys restoring and its batch is off the queue."""

    async def check() -> bool:
        progress = await jobs.progress(job_id)
        status = await jobs.status(batch_job_id(job_id, 1))
        return progress.restoring == n and status == JobStatus.DEFERRED

    return check


async def test_archived_and_warm_objects_mixed(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    moto_env: dict[str, str],
    moto_client: StorageClient,
    buckets: tuple[str, str],
    restores: Counter[str],
) -> None:
    """Warm objects copy at once; each archived one gets one restore, then is copied.

    Meanwhile the batch waits deferred, progress and the CLI show the keys restoring, and a
    pause holds it.
    """
    src, dst = buckets
    # The coordinator hands its wait on at half the job timeout (restores outlast any run).
    worker = await start_in_process(**moto_env, STORAGE_JOBS_JOB_TIMEOUT="8")
    handle = await jobs.enqueue(migration(src, dst), job_id=f"mig-{uuid.uuid4().hex[:8]}")
    batch = batch_job_id(handle.job_id, 1)
    await wait_until(waiting(jobs, handle.job_id, 3), timeout=60)
    progress = await jobs.progress(handle.job_id)
    assert (progress.done, progress.failed) == (len(WARM), 0)
    assert await keys_left(moto_client, dst, "r/") == set(WARM)
    run = await run_cli(moto_env, "progress", handle.job_id, "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["restoring"] == 3

    async def rechecked_thrice() -> bool:
        return len(worker.events("job.waiting", job_id=batch)) >= 3

    async def coordinator_relayed() -> bool:
        return bool(worker.events("job.waiting", job_id=handle.job_id))

    await wait_until(rechecked_thrice, timeout=60)
    await wait_until(coordinator_relayed, timeout=60)
    assert restores == dict.fromkeys(ARCHIVED, 1)  # checks ask for no second restore

    # Paused while waiting: the batch is parked when due, and copies nothing while paused.
    assert await jobs.pause(handle.job_id)

    async def parked() -> bool:
        return await jobs.status(batch) == JobStatus.PAUSED

    await wait_until(parked, timeout=60)
    complete_restores(src)
    assert await keys_left(moto_client, dst, "r/") == set(WARM)
    assert await jobs.resume(handle.job_id)

    result = await handle.result(timeout=60)
    assert (result.listed, result.copied, result.failed) == (8, 8, 0)
    assert (await jobs.progress(handle.job_id)).restoring == 0
    assert await keys_left(moto_client, dst, "r/") == set(WARM) | set(ARCHIVED)
    # A copy keeps its source's class: an archived source's copy is archived too, its bytes
    # not readable without a restore of its own (dst_storage_class says otherwise).
    for key, cls in ARCHIVED.items():
        copy = await moto_client.head_object(bucket=dst, key=key)
        assert (copy["storage_class"], copy["size"]) == (cls, len(f"ice {key}".encode()))
    assert restores == dict.fromkeys(ARCHIVED, 1)
    # Each wait gave its attempt back (a lost lease on a loaded machine would not).
    assert attempts_given_back(worker, batch, "job.waiting")
    assert attempts_given_back(worker, handle.job_id, "job.waiting")


async def test_without_the_option_an_archived_key_fails_naming_its_class(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    moto_env: dict[str, str],
    moto_client: StorageClient,
    buckets: tuple[str, str],
    restores: Counter[str],
) -> None:
    """No restore asked; each archived key is a per-key failure saying its class."""
    src, dst = buckets
    await start_in_process(**moto_env)
    job = migration(src, dst).model_copy(update={"restore_archived": False})
    result = await (await jobs.enqueue(job)).result(timeout=60)
    assert (result.copied, result.failed) == (len(WARM), len(ARCHIVED))
    failures = {
        line["key"]: line["message"]
        for line in await report_of(moto_client, result)
        if line["status"] == "failed"
    }
    assert set(failures) == set(ARCHIVED)
    for key, storage_class in ARCHIVED.items():
        assert f"source is in {storage_class} and not restored" in failures[key]
    assert not restores


async def test_cancel_while_waiting(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    moto_env: dict[str, str],
    moto_client: StorageClient,
    buckets: tuple[str, str],
    restores: Counter[str],
) -> None:
    """Cancelled while its restores are in progress: the deferred batch never runs again."""
    src, dst = buckets
    worker = await start_in_process(**moto_env)
    handle = await jobs.enqueue(migration(src, dst), job_id=f"mig-{uuid.uuid4().hex[:8]}")
    batch = batch_job_id(handle.job_id, 1)
    await wait_until(waiting(jobs, handle.job_id, 3), timeout=60)
    assert await handle.cancel()
    with pytest.raises(JobCancelledError):
        await handle.result(timeout=60)
    assert await jobs.status(batch) == JobStatus.CANCELLED
    progress = await jobs.progress(handle.job_id)
    assert (progress.status, progress.done) == ("cancelled", len(WARM))
    runs = len(worker.events("job.start", job_id=batch))
    complete_restores(src)
    await asyncio.sleep(3)  # three re-checks' worth: none may run
    assert len(worker.events("job.start", job_id=batch)) == runs
    assert await keys_left(moto_client, dst, "r/") == set(WARM)


async def test_a_worker_killed_while_waiting(
    start_worker: StartWorker,
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    moto_env: dict[str, str],
    moto_client: StorageClient,
    buckets: tuple[str, str],
    restores: Counter[str],
) -> None:
    """SIGKILLed while restores run: the wait lives in Redis; a new worker copies them."""
    src, dst = buckets
    worker = start_worker(**{**moto_env, "STORAGE_JOBS_LEASE_SECONDS": "4"})
    handle = await jobs.enqueue(migration(src, dst), job_id=f"mig-{uuid.uuid4().hex[:8]}")
    await wait_until(waiting(jobs, handle.job_id, 3), timeout=60)
    worker.kill()
    complete_restores(src)
    await start_in_process(**moto_env)
    result = await handle.result(timeout=90)
    assert (result.listed, result.copied, result.failed) == (8, 8, 0)
    assert await keys_left(moto_client, dst, "r/") == set(WARM) | set(ARCHIVED)
    assert restores == dict.fromkeys(ARCHIVED, 1)
