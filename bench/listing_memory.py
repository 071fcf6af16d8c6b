"""Memory of a coordinating worker while it lists 100,000 keys (issue: fan-out while listing).

Run: ``uv run python -m bench.listing_memory [--keys N]``. Starts SeaweedFS, fills a prefix with
N small objects, runs a dry-run DeletePrefixJob (the coordinator lists page by page and fans out
batch jobs; the dry-run batches change nothing) on one worker subprocess, and samples the
worker's RSS against the progress of the listing. Prints a table and writes JSON to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.devstack.workers import WorkerProcess
from storage_jobs.jobs import DeletePrefixJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient, StorageConfig

# Not db 12: the harness flushes that one before each scenario.
REDIS_URL = "redis://127.0.0.1:6379/10"


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def fill(storage: StorageClient, bucket: str, keys: int) -> None:
    """Creates ``keys`` empty objects, 128 at a time."""
    slots = asyncio.Semaphore(128)

    async def put(i: int) -> None:
        async with slots:
            await storage.upload_file(bucket=bucket, key=f"many/{i:07d}", data=b"")

    await asyncio.gather(*(put(i) for i in range(keys)))


async def main(keys: int, out: Path | None) -> dict[str, object]:
    """Runs the measurement."""
    work = Path(tempfile.mkdtemp(prefix="listing-memory-"))
    server = SeaweedFS(work / "s3")
    server.start()
    try:
        config = StorageConfig(
            endpoint_url=server.endpoint_url,
            access_key_id=server.access_key,
            secret_access_key=server.secret_key,
            max_pool_connections=128,
        )
        async with StorageClient(config) as storage:
            await storage.s3.create_bucket(Bucket="memory")
            started = time.monotonic()
            await fill(storage, "memory", keys)
            fill_s = time.monotonic() - started
        queue = f"memory-{uuid.uuid4().hex[:8]}"
        worker = WorkerProcess(
            {
                "STORAGE_JOBS_REDIS_URL": REDIS_URL,
                "STORAGE_JOBS_QUEUE_NAME": queue,
                "STORAGE_JOBS_S3_ENDPOINT_URL": server.endpoint_url,
                "STORAGE_JOBS_S3_ACCESS_KEY_ID": server.access_key,
                "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": server.secret_key,
            },
            work / "worker.log",
        ).start()
        samples: list[tuple[int, int]] = []
        settings = Settings(redis_url=REDIS_URL, queue_name=queue)
        async with StorageJobsClient(settings=settings) as jobs:
            handle = await jobs.enqueue(
                DeletePrefixJob(bucket="memory", prefix="many/", dry_run=True)
            )
            while True:
                progress = await jobs.progress(handle.job_id)
                samples.append((progress.listed, rss_kib(worker.pid)))
                if progress.finished:
                    break
                await asyncio.sleep(0.2)
            result = await handle.result(timeout=60)
        worker.stop()
    finally:
        server.stop()
    marks = [0, keys // 10, keys // 2, keys]
    table = {
        mark: next((rss for listed, rss in samples if listed >= mark), samples[-1][1])
        for mark in marks
    }
    report: dict[str, object] = {
        "keys": keys,
        "fill_seconds": round(fill_s, 1),
        "listed": result.listed,
        "rss_kib_at_listed": table,
        "rss_kib_max": max(rss for _, rss in samples),
        "rss_kib_min_after_start": min(rss for listed, rss in samples if listed > 0),
        "samples": len(samples),
    }
    print(json.dumps(report, indent=2))
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.keys, args.out))
