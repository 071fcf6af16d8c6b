"""Migrations: 1,000 objects killed mid-way and resumed, cross-endpoint, prefix delete."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.jobs import DeletePrefixJob, MigrateJob
from storage_jobs.storage import StorageClient, StorageConfig
from tests.fixtures_e2e import fill, on_every_layout, put_multipart, wait_until
from tests.workers import StartInProcess, StartWorker

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
N_SMALL = 1_000
BATCH = 50  # 20 batches: the kill lands between recorded batches and running ones


async def listing(storage: StorageClient, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
    """Key -> (size, etag) for every object under a prefix."""
    out: dict[str, tuple[int, str]] = {}
    async for page in storage.iter_pages(bucket=bucket, prefix=prefix):
        out.update({o.key: (o.size, o.etag) for o in page})
    return out


@on_every_layout
async def test_migration_killed_and_resumed_then_rerun_copies_nothing(
    start_worker: StartWorker,
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """1,003 objects (3 multipart): kill every worker mid-way, restart, finish byte-identical."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    small = [f"data/{i:05d}.bin" for i in range(N_SMALL)]
    await fill(seaweedfs, bucket, small, data=b"0123456789" * 100)
    big = {f"data/big-{i}.bin": os.urandom(MiB) * 11 for i in range(3)}
    for key, data in big.items():
        await put_multipart(admin_storage, bucket, key, data)
    # A longer lease than the other e2e tests: this test saturates both cores, and a worker
    # starved past its lease loses the job to another (correctly, but it slows the test).
    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url, "STORAGE_JOBS_LEASE_SECONDS": "10"}
    first = [start_worker(**env), start_worker(**env)]

    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="data/",
        dst_bucket=dst,
        dst_prefix="moved/",
        batch_size=BATCH,
        report="all",
    )
    handle = await jobs.enqueue(job, job_id=f"migration-{uuid.uuid4().hex[:8]}")

    async def a_third_done() -> bool:
        return (await jobs.progress(handle.job_id)).processed >= N_SMALL // 3

    await wait_until(a_third_done)
    for worker in first:
        worker.kill()
    at_kill = await jobs.progress(handle.job_id)
    assert at_kill.status != "done" and at_kill.processed < N_SMALL
    # The workers that finish it die of nothing: they run in this process.
    [await start_in_process(**env), await start_in_process(**env)]
    result = await handle.result(timeout=600)

    total = N_SMALL + len(big)
    assert result.listed == total
    assert result.failed == 0
    assert result.copied + result.skipped == total
    # Keys copied before the kill but not yet recorded are found identical, not copied again.
    assert max(fault_proxy.copies.values()) <= 2
    assert sum(n - 1 for n in fault_proxy.copies.values()) <= 64
    src = await listing(admin_storage, bucket, "data/")
    moved = await listing(admin_storage, dst, "moved/")
    assert {k.replace("moved/", "data/", 1) for k in moved} == set(src)
    for key, (size, etag) in src.items():
        dst_size, dst_etag = moved[key.replace("data/", "moved/", 1)]
        assert dst_size == size
        if "-" not in etag:
            assert dst_etag == etag  # an MD5: same bytes
    for key, data in big.items():
        assert (
            await admin_storage.fetch_file(bucket=dst, key=key.replace("data/", "moved/", 1))
            == data
        )
    assert result.report_bucket and result.report_key
    report = await admin_storage.fetch_file(bucket=result.report_bucket, key=result.report_key)
    lines = [json.loads(line) for line in report.splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(moved)
    assert {line["status"] for line in lines} <= {"copied", "skipped"}
    assert sum(line["status"] == "copied" for line in lines) == result.copied

    copies_before = sum(fault_proxy.copies.values())
    again = await (await jobs.enqueue(job)).result(timeout=600)
    assert (again.listed, again.copied, again.skipped) == (total, 0, total)
    assert sum(fault_proxy.copies.values()) == copies_before


@pytest.fixture
def second_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """Another S3 server: the source of a cross-endpoint migration."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs-src"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def source_storage(second_seaweedfs: SeaweedFS) -> AsyncIterator[StorageClient]:
    """Admin client of the second server."""
    config = StorageConfig(
        endpoint_url=second_seaweedfs.endpoint_url,
        access_key_id=second_seaweedfs.access_key,
        secret_access_key=second_seaweedfs.secret_key,
        max_pool_connections=64,
    )
    async with StorageClient(config) as client:
        yield client


async def test_cross_endpoint_migration(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    second_seaweedfs: SeaweedFS,
    source_storage: StorageClient,
) -> None:
    """Objects stream from another SeaweedFS via a named profile; a re-run copies nothing."""
    second_seaweedfs.client().create_bucket(Bucket="legacy")
    keys = [f"old/{i:03d}.txt" for i in range(300)]
    await fill(second_seaweedfs, "legacy", keys, data=b"legacy bytes")
    big = os.urandom(MiB) * 12
    await put_multipart(source_storage, "legacy", "old/big.bin", big)
    profiles = {
        "legacy": {
            "endpoint_url": second_seaweedfs.endpoint_url,
            "access_key_id": second_seaweedfs.access_key,
            "secret_access_key": second_seaweedfs.secret_key,
        }
    }
    await start_in_process(STORAGE_JOBS_SOURCE_PROFILES=json.dumps(profiles))
    job = MigrateJob(
        src_bucket="legacy", src_prefix="old/", dst_bucket=bucket, src_endpoint="legacy"
    )
    result = await (await jobs.enqueue(job)).result(timeout=300)
    assert (result.listed, result.copied, result.failed) == (301, 301, 0)
    assert await admin_storage.fetch_file(bucket=bucket, key="big.bin") == big
    assert await admin_storage.fetch_file(
        bucket=bucket, key="old/000.txt".removeprefix("old/")
    ) == (b"legacy bytes")
    again = await (await jobs.enqueue(job)).result(timeout=300)
    assert (again.copied, again.skipped) == (0, 301)
    unknown = job.model_copy(update={"src_endpoint": "nope"})
    from storage_jobs.client import JobFailedError

    with pytest.raises(JobFailedError) as info:
        await (await jobs.enqueue(unknown)).result(timeout=60)
    assert "nope" in info.value.message


async def test_prefix_delete_of_10000_keys_with_per_key_failures(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """Fail-once keys are retried and deleted; denied keys are reported and stay."""
    keys = [f"logs/{i:05d}" for i in range(10_000)]
    await fill(seaweedfs, bucket, keys)
    flaky = {keys[i]: "InternalError" for i in (1, 2500, 9999)} | {keys[4000]: "SlowDown"}
    denied = {keys[i]: "AccessDenied" for i in (17, 5017, 8123)}
    fault_proxy.rules.delete_errors = {**flaky, **denied}
    fault_proxy.rules.delete_error_times = dict.fromkeys(flaky, 1)
    await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url)
    await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url)

    result = await (await jobs.enqueue(DeletePrefixJob(bucket=bucket, prefix="logs/"))).result(
        timeout=300
    )
    assert (result.listed, result.deleted, result.failed) == (10_000, 10_000 - 3, 3)
    assert sorted(await admin_storage.list_files(bucket=bucket, prefix="logs/")) == sorted(denied)
    assert result.report_bucket and result.report_key
    report = await admin_storage.fetch_file(bucket=result.report_bucket, key=result.report_key)
    lines = [json.loads(line) for line in report.splitlines()]
    assert {(line["key"], line["error_code"]) for line in lines} == set(denied.items())
    retried = [k for batch in fault_proxy.delete_batches for k in batch if k in flaky]
    assert sorted(retried) == sorted([*flaky, *flaky])  # each sent twice: failed, then retried
