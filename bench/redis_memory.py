"""Redis bytes per queued job, per stored result and per migrated object: the sizing rule.

``python -m bench.redis_memory`` starts its own ``redis-server``, SeaweedFS and one worker and
measures ``INFO memory`` ``used_memory`` deltas (and ``MEMORY USAGE`` of single keys):

1. 10,000 queued 1 KiB inline UploadJobs, no worker running;
2. the same jobs done: their results stored (the job keys are gone);
3. a migration of 2,000 objects (batches of 1,000) with ``report="all"`` (one report line per
   object while it runs) and ``report="failures"``, each measured at its peak (the coordinator
   deletes the report lines once the report is written) and after it finished.

Prints JSON; the sizing rule in docs/redis.md is drawn from it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer, SeaweedFS
from storage_jobs.devstack.workers import WorkerProcess
from storage_jobs.jobs import MigrateJob, UploadJob
from storage_jobs.settings import Settings

KiB = 1024
QUEUED = 10_000
MIGRATED = 2_000


async def used(redis: Redis) -> int:
    """``used_memory`` after letting Redis settle."""
    await asyncio.sleep(0.5)
    return int((await redis.info("memory"))["used_memory"])


async def wait_results(redis: Redis, ids: list[str], timeout: float = 600) -> None:
    """Waits until every id has a result key."""
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} jobs unfinished"
        found = await redis.mget([f"arq:result:{i}" for i in pending[:1000]])
        done = {i for i, r in zip(pending[:1000], found, strict=True) if r is not None}
        pending = [i for i in pending if i not in done]
        if pending:
            await asyncio.sleep(0.5)


async def measure(workdir: Path) -> dict[str, Any]:
    """Runs the three measurements; returns bytes per unit."""
    out: dict[str, Any] = {}
    with RedisServer(workdir / "redis") as server:
        seaweedfs = SeaweedFS(workdir / "seaweedfs")
        seaweedfs.start()
        try:
            s3 = seaweedfs.client()
            for b in ("mem-src", "mem-dst"):
                s3.create_bucket(Bucket=b)
            redis = Redis.from_url(server.url)
            settings = Settings(redis_url=server.url, queue_name="mem")
            env = {
                "STORAGE_JOBS_REDIS_URL": server.url,
                "STORAGE_JOBS_QUEUE_NAME": "mem",
                "STORAGE_JOBS_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
                "STORAGE_JOBS_S3_ACCESS_KEY_ID": seaweedfs.access_key,
                "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key,
                "STORAGE_JOBS_LEASE_SECONDS": "30",
            }
            async with StorageJobsClient(settings=settings) as jobs:
                base = await used(redis)
                uploads = [UploadJob(bucket="mem-dst", key=f"u/{i}", data=b"d" * KiB) for i in range(QUEUED)]  # fmt: skip  # noqa: E501
                handles = await jobs.enqueue_many(uploads)
                queued = await used(redis)
                one = handles[0].job_id
                out["queued_upload_1kib"] = {
                    "bytes_per_job": round((queued - base) / QUEUED),
                    "memory_usage_job_key": await redis.memory_usage(f"arq:job:{one}"),
                }
                worker = WorkerProcess(env, workdir / "worker.log", name="mem-worker").start()
                try:
                    await wait_results(redis, [h.job_id for h in handles])
                    done = await used(redis)
                    out["stored_upload_result"] = {
                        "bytes_per_result": round((done - base) / QUEUED),
                        "memory_usage_result_key": await redis.memory_usage(f"arq:result:{one}"),
                    }
                    keys = [f"m/{i:05d}" for i in range(MIGRATED)]
                    await asyncio.to_thread(
                        lambda: [s3.put_object(Bucket="mem-src", Key=k, Body=b"m") for k in keys]
                    )
                    for report in ("all", "failures"):
                        before = await used(redis)
                        handle = await jobs.enqueue(
                            MigrateJob(
                                src_bucket="mem-src", src_prefix="m/", dst_bucket="mem-dst",
                                dst_prefix=f"{report}/", report=report,
                            )
                        )  # fmt: skip
                        peak = before
                        while not await redis.exists(f"arq:result:{handle.job_id}"):
                            peak = max(peak, int((await redis.info("memory"))["used_memory"]))
                            await asyncio.sleep(0.05)
                        after = await used(redis)
                        out[f"migration_report_{report}"] = {
                            "objects": MIGRATED,
                            "peak_bytes_per_object": round((peak - before) / MIGRATED, 1),
                            "left_bytes_total": after - before,
                        }
                finally:
                    worker.stop()
            await redis.aclose()
        finally:
            seaweedfs.stop()
    return out


def main() -> None:
    """Prints the measurements as JSON."""
    with tempfile.TemporaryDirectory(prefix="redis-mem-") as tmp:
        print(json.dumps(asyncio.run(measure(Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
