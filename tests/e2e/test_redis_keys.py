"""Every key has an expiry or an owner: after a full workload only the documented keys remain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer, SeaweedFS
from storage_jobs.errors import JobFailedError
from storage_jobs.jobs import CopyJob, DeleteJob, DeletePrefixJob, MigrateJob, UploadJob
from storage_jobs.queue import HISTORY_TTL, QueueKeys
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import put_many
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

RESULT_TTL = 5.0
PROGRESS_TTL = 14 * 24 * 3600  # queue/_progress.py: a prefix job's progress, for client.progress


async def test_after_a_full_workload_only_documented_keys_remain(
    tmp_path: Path,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    queue_name: str,
) -> None:
    """Uploads, copies, deletes, a dead letter, a migration and a prefix delete, then expiry."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await put_many(admin_storage, bucket, [f"m/{i:02d}" for i in range(15)], data=b"m")
    with RedisServer(tmp_path / "redis") as server:
        env = {
            **worker_env,
            "STORAGE_JOBS_REDIS_URL": server.url,
            "STORAGE_JOBS_RESULT_TTL": str(RESULT_TTL),
            "STORAGE_JOBS_LEASE_SECONDS": "10",
            "STORAGE_JOBS_MAX_TRIES": "1",
        }
        worker = WorkerProcess(env, tmp_path / "w.log", name="w").start()
        settings = Settings(redis_url=server.url, queue_name=queue_name, result_ttl=RESULT_TTL)
        try:
            async with StorageJobsClient(settings=settings) as jobs:
                handles = await jobs.enqueue_many(
                    [UploadJob(bucket=bucket, key=f"u/{i}", data=b"u") for i in range(3)]
                    + [
                        CopyJob(src_bucket=bucket, src_key="m/00", dst_key="c/0"),
                        DeleteJob(bucket=bucket, keys=["u/0", "never-was"]),
                        MigrateJob(
                            src_bucket=bucket,
                            src_prefix="m/",
                            dst_bucket=dst,
                            batch_size=5,
                            report="all",
                        ),
                    ]
                )
                for handle in handles:
                    await handle.result(timeout=120)
                wipe = await jobs.enqueue(DeletePrefixJob(bucket=dst, prefix="m/", batch_size=5))
                await wipe.result(timeout=120)
                dead = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="no", dst_key="x"))
                with pytest.raises(JobFailedError):
                    await dead.result(timeout=60)
        finally:
            assert worker.stop() == 0
        await asyncio.sleep(RESULT_TTL + 2)

        client = redis.Redis(port=server.port)
        keys = QueueKeys(queue_name)
        left = {k.decode(): int(client.ttl(k)) for k in client.scan_iter(count=1000)}  # type: ignore[arg-type]
        client.close()
    # docs/redis.md, "Keys that stay": dead letters until dropped, the wake list (<= 1 token), the
    # dashboard's capped indexes of finished and prefix jobs, the queue's shard count.
    capped = {*(keys.finished(s) for s in ("complete", "failed", "cancelled")), keys.prefix_jobs}
    capped.add(keys.events)  # docs/events.md: trimmed by length (STORAGE_JOBS_EVENTS_MAXLEN)
    permanent = {keys.wake, keys.dead_index, keys.dead_data, keys.meta, *capped}
    assert {keys.dead_index, keys.dead_data} <= set(left), left
    others = {k: ttl for k, ttl in left.items() if k not in permanent}
    assert not [k for k in others if k.startswith("arq:")], others
    assert not [k for k in others if ":delete" in k], "delete state outlived its result"
    migration_ids = {wipe.job_id, handles[-1].job_id}
    # The dashboard's per-minute counters expire on their own within HISTORY_TTL.
    history = {
        k: ttl for k, ttl in others.items() if k.startswith(f"storage-jobs:{queue_name}:history:")
    }
    assert all(0 < ttl <= HISTORY_TTL for ttl in history.values()), history
    for key, ttl in others.items():
        if key in history:
            continue
        assert key.startswith("storage-jobs:state:"), f"undocumented key left: {key}"
        assert any(m in key for m in migration_ids), key
        assert 0 < ttl <= PROGRESS_TTL, f"{key} has no expiry"
