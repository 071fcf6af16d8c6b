"""Small uploads through the queue (1 worker, 32 jobs at once) vs direct put_object at 32."""

from __future__ import annotations

import asyncio
import time

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..cpu import CpuMeter
from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ._base import Context, Scenario

__all__ = ["Uploads", "count_stored", "direct_uploads", "queued_uploads"]


class Uploads(Scenario):
    """N inline 1 KiB uploads, end to end from the first enqueue to the last result."""

    name = "uploads"
    rows = (
        Row(
            key="uploads",
            title="small uploads (1 KiB), 1 worker",
            unit="objects/s",
            ours_label="queue: enqueue_many -> 1 worker (max_jobs=32)",
            baseline_label="direct aioboto3 put_object, concurrency 32",
            checks=(Check("ratio", ">=", 0.90, ">= 0.90x baseline"),),
        ),
    )

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        n = ctx.sizes.uploads
        bucket = ctx.stack.bucket("uploads")
        body = bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        sides = {"direct": direct_uploads, "queue": queued_uploads}
        order = ["direct", "queue"] if run % 2 == 0 else ["queue", "direct"]
        rates = {
            side: await sides[side](ctx, bucket, f"run{run}/{side}", body, n) for side in order
        }
        stored = await count_stored(ctx, bucket, [f"run{run}/{side}" for side in sides])
        counts = {
            "stored": stored[f"run{run}/queue"],
            "baseline_stored": stored[f"run{run}/direct"],
        }
        return {"uploads": Sample(rates["queue"], rates["direct"], counts)}


async def count_stored(ctx: Context, bucket: str, prefixes: list[str]) -> dict[str, float]:
    """Objects each side really stored under ``prefix/`` (its warm-up object excluded), untimed."""
    async with ctx.stack.storage(pool=4) as storage:
        return {
            p: len(await storage.list_files(bucket=bucket, prefix=f"{p}/")) - 1.0 for p in prefixes
        }


async def direct_uploads(
    ctx: Context, bucket: str, prefix: str, body: bytes, n: int, meter: CpuMeter | None = None
) -> float:
    """Objects/s of ``n`` direct ``put_object`` calls at the upload concurrency (one warm-up)."""
    conc = ctx.sizes.upload_concurrency
    async with ctx.stack.storage(pool=conc) as storage:
        s3 = storage.s3
        # Warm the pool like the worker's (its first requests are not timed either).
        await s3.put_object(Bucket=bucket, Key=f"{prefix}/warm", Body=body)
        keys = iter(range(n))

        async def lane() -> None:
            for i in keys:
                await s3.put_object(Bucket=bucket, Key=f"{prefix}/{i}", Body=body)

        if meter is not None:
            meter.start()
        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(conc)))
        done = time.perf_counter()
        if meter is not None:
            meter.stop()
        return n / (done - started)


async def queued_uploads(
    ctx: Context,
    bucket: str,
    prefix: str,
    body: bytes,
    n: int,
    meter: CpuMeter | None = None,
    *,
    argv: list[str] | None = None,
    tracing: bool = False,
    **env: str,
) -> float:
    """Objects/s of ``n`` inline ``UploadJob``s: ``enqueue_many`` to the last result seen.

    ``argv``, ``env``: the worker's command and more of its environment; ``tracing``: the
    producer's setting.
    """
    conc = ctx.sizes.upload_concurrency
    queue = ctx.stack.queue("uploads")
    worker = await ctx.stack.start_worker(
        ctx.stack.worker_env(queue, STORAGE_JOBS_MAX_JOBS=str(conc), **env), "uploads", argv=argv
    )
    try:
        settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue, tracing=tracing)
        async with StorageJobsClient(settings=settings) as client:
            warm = await client.enqueue(UploadJob(bucket=bucket, key=f"{prefix}/warm", data=body))
            await warm.result(timeout=60)
            jobs = [UploadJob(bucket=bucket, key=f"{prefix}/{i}", data=body) for i in range(n)]
            if meter is not None:
                meter.start(worker.pid)
            started = time.perf_counter()
            handles = await client.enqueue_many(jobs)
            done = await wait_for_results(
                client.redis, queue, [h.job_id for h in handles], timeout=600
            )
            if meter is not None:
                meter.stop()
    finally:
        await ctx.stack.stop_worker(worker)
    return n / (done - started)
