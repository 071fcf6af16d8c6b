"""Migrations end to end, small: copy a prefix, re-run copies nothing, dry run, prefix delete."""

from __future__ import annotations

import json

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import DeletePrefixJob, MigrateJob
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


async def test_small_migration_and_rerun(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """250 objects migrate in 3 batches; a second run skips all; dry run changes nothing."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"src/{i:04d}.txt" for i in range(250)]
    await fill(seaweedfs, bucket, keys, data=b"payload")
    await start_in_process()
    await start_in_process()
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="src/",
        dst_bucket=dst,
        dst_prefix="copy/",
        batch_size=100,
        report="all",
    )
    handle = await jobs.enqueue(job)
    result = await handle.result(timeout=120)
    assert (result.listed, result.copied, result.skipped, result.failed) == (250, 250, 0, 0)
    assert result.bytes == 250 * len(b"payload")
    copied = await admin_storage.list_files(bucket=dst, prefix="copy/")
    assert sorted(copied) == sorted("copy/" + k[4:] for k in keys)
    report = await admin_storage.fetch_file(bucket=result.report_bucket, key=result.report_key)
    lines = [json.loads(line) for line in report.splitlines()]
    assert len(lines) == 250 and {line["status"] for line in lines} == {"copied"}
    progress = await jobs.progress(handle.job_id)
    assert progress.finished and progress.pages == 3

    again = await (await jobs.enqueue(job)).result(timeout=120)
    assert (again.copied, again.skipped) == (0, 250)

    await admin_storage.upload_file(bucket=bucket, key="src/0007.txt", data=b"changed!")
    dry = await (await jobs.enqueue(job.model_copy(update={"dry_run": True}))).result(timeout=120)
    assert (dry.copied, dry.skipped) == (1, 249)
    assert await admin_storage.fetch_file(bucket=dst, key="copy/0007.txt") == b"payload"


async def test_small_prefix_delete(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
) -> None:
    """A prefix delete removes everything under the prefix and nothing else."""
    await fill(seaweedfs, bucket, [f"tmp/{i:04d}" for i in range(300)] + ["keep/a"])
    await start_in_process()
    dry = await (
        await jobs.enqueue(DeletePrefixJob(bucket=bucket, prefix="tmp/", dry_run=True))
    ).result(timeout=60)
    assert (dry.listed, dry.deleted) == (300, 300)
    assert len(await admin_storage.list_files(bucket=bucket, prefix="tmp/")) == 300
    result = await (
        await jobs.enqueue(DeletePrefixJob(bucket=bucket, prefix="tmp/", batch_size=128))
    ).result(timeout=60)
    assert (result.listed, result.deleted, result.failed) == (300, 300, 0)
    assert await admin_storage.list_files(bucket=bucket, prefix="tmp/") == []
    assert await admin_storage.file_exists(bucket=bucket, key="keep/a")
