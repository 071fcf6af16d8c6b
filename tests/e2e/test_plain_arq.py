"""Plain arq: ``arq storage_jobs.worker.WorkerSettings`` runs every job kind."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import (
    CopyJob,
    DeleteJob,
    DeletePrefixJob,
    MigrateJob,
    UploadJob,
)
from storage_jobs.queue import live_workers
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import put_many
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration


def arq_cli() -> str:
    """Arq's console script, installed next to this interpreter (a dependency of ours)."""
    script = Path(sys.executable).parent / "arq"
    assert script.exists(), f"arq's CLI is not installed at {script} (run uv sync)"
    return str(script)


@pytest.fixture
def plain_arq_worker(tmp_path: Path, worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """``arq storage_jobs.worker.WorkerSettings`` as a subprocess, configured by environment."""
    worker = WorkerProcess(
        worker_env,
        tmp_path / "arq.log",
        name="arq",
        argv=[arq_cli(), "storage_jobs.worker.WorkerSettings"],
        ready_event=None,  # plain arq does not set up our JSON logs: wait for arq's own line
    )
    worker.start()
    deadline = time.monotonic() + 30
    while "Starting worker for" not in worker.log_path.read_text(errors="replace"):
        if not worker.running() or time.monotonic() > deadline:
            worker.stop()
            raise AssertionError(f"plain arq did not start:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.05)
    try:
        yield worker
    finally:
        worker.stop()


async def test_plain_arq_runs_every_job_kind(
    plain_arq_worker: WorkerProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    queue_name: str,
) -> None:
    """Upload, copy, bulk delete, migration (3 batches) and prefix delete, each checked in S3."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await put_many(admin_storage, bucket, [f"src/{i:02d}" for i in range(10)], data=b"migrate")
    await put_many(admin_storage, bucket, [f"tmp/{i:02d}" for i in range(10)] + ["keep"])
    await put_many(admin_storage, bucket, [f"del/{i}" for i in range(3)])

    upload = await jobs.enqueue(UploadJob(bucket=bucket, key="up", data=b"uploaded"))
    assert (await upload.result(timeout=60)).size == len(b"uploaded")
    copy = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="up", dst_key="up-copy"))
    await copy.result(timeout=30)
    delete = await jobs.enqueue(DeleteJob(bucket=bucket, keys=[f"del/{i}" for i in range(3)]))
    deleted = await delete.result(timeout=30)
    migrate = await jobs.enqueue(
        MigrateJob(src_bucket=bucket, src_prefix="src/", dst_bucket=dst, batch_size=4)
    )
    migrated = await migrate.result(timeout=60)
    prefix = await jobs.enqueue(DeletePrefixJob(bucket=bucket, prefix="tmp/", batch_size=4))
    pruned = await prefix.result(timeout=60)

    assert await admin_storage.fetch_file(bucket=bucket, key="up") == b"uploaded"
    assert await admin_storage.fetch_file(bucket=bucket, key="up-copy") == b"uploaded"
    assert (deleted.deleted_count, deleted.failed) == (3, [])
    assert await admin_storage.list_files(bucket=bucket, prefix="del/") == []
    assert (migrated.listed, migrated.copied, migrated.failed) == (10, 10, 0)
    assert (await jobs.progress(migrate.job_id)).pages == 3
    for i in range(10):
        assert await admin_storage.fetch_file(bucket=dst, key=f"{i:02d}") == b"migrate"
    assert (pruned.listed, pruned.deleted, pruned.failed) == (10, 10, 0)
    assert await admin_storage.list_files(bucket=bucket, prefix="tmp/") == []
    assert await admin_storage.file_exists(bucket=bucket, key="keep")

    # It really was plain arq: a storage-jobs worker would have written its own heartbeat.
    assert await live_workers(jobs.redis, queue_name, max_age=60) == []
    assert plain_arq_worker.running()
