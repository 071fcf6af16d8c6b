"""Migration of a prefix to another bucket: MigrateJob vs a direct server-side copy loop."""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import fill_via_filer, wait_for_results
from ._base import Context, Scenario

__all__ = ["Migration"]


def _migrate_job() -> Any:
    return getattr(importlib.import_module("storage_jobs.jobs"), "MigrateJob", None)


class Migration(Scenario):
    """N 1 KiB objects under a prefix, copied to another bucket (same endpoint)."""

    name = "migration"

    def __init__(self) -> None:
        self.src_bucket = ""
        self.rows = (
            Row(
                key="migration",
                title="migration of small objects, same endpoint",
                unit="objects/s",
                ours_label="one MigrateJob -> worker (max_jobs=32)",
                baseline_label="direct list + copy_object loop, concurrency 32",
                checks=(Check("ratio", ">=", 0.9, ">= 0.9x baseline"),),
            ),
        )

    @override
    def unavailable(self) -> str | None:
        return None if _migrate_job() is not None else "storage_jobs.jobs.MigrateJob not available"

    @override
    async def setup(self, ctx: Context) -> None:
        self.src_bucket = ctx.stack.bucket("migrate-src")
        keys = [f"src/{i:06d}" for i in range(ctx.sizes.migration_objects)]
        await fill_via_filer(ctx.stack, self.src_bucket, keys, b"m" * 1024)

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        rates: dict[str, float] = {}
        found: dict[str, int] = {}
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        for side in order:
            prefix = f"run{run}/{side}/"
            if side == "ours":
                rates[side] = await self._ours(ctx, prefix)
            else:
                rates[side] = await self._baseline(ctx, prefix)
            found[side] = await self._verify(ctx, prefix)
        counts = {"copied": float(found["ours"]), "baseline_copied": float(found["baseline"])}
        return {"migration": Sample(rates["ours"], rates["baseline"], counts)}

    async def _verify(self, ctx: Context, prefix: str) -> int:
        dst = ctx.stack.bucket("migrate-dst")
        async with ctx.stack.storage(pool=4) as storage:
            count = 0
            paginator = storage.s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=dst, Prefix=prefix):
                count += len(page.get("Contents", []))
        if count != ctx.sizes.migration_objects:
            raise RuntimeError(f"{count} objects under {prefix}, not {ctx.sizes.migration_objects}")
        return count

    async def _baseline(self, ctx: Context, prefix: str) -> float:
        n, conc = ctx.sizes.migration_objects, ctx.sizes.migration_concurrency
        dst = ctx.stack.bucket("migrate-dst")
        async with ctx.stack.storage(pool=conc) as storage:
            s3 = storage.s3
            await s3.head_bucket(Bucket=dst)
            queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=conc * 4)

            async def lister() -> None:
                paginator = s3.get_paginator("list_objects_v2")
                async for page in paginator.paginate(Bucket=self.src_bucket, Prefix="src/"):
                    for item in page.get("Contents", []):
                        await queue.put(item["Key"])
                for _ in range(conc):
                    await queue.put(None)

            async def copier() -> None:
                while (key := await queue.get()) is not None:
                    await s3.copy_object(
                        Bucket=dst,
                        Key=prefix + key.removeprefix("src/"),
                        CopySource={"Bucket": self.src_bucket, "Key": key},
                    )

            started = time.perf_counter()
            await asyncio.gather(lister(), *(copier() for _ in range(conc)))
            elapsed = time.perf_counter() - started
        return n / elapsed

    async def _ours(self, ctx: Context, prefix: str) -> float:
        migrate_job = _migrate_job()
        n, conc = ctx.sizes.migration_objects, ctx.sizes.migration_concurrency
        dst = ctx.stack.bucket("migrate-dst")
        queue = ctx.stack.queue("migrate")
        worker = await ctx.stack.start_worker(
            ctx.stack.worker_env(queue, STORAGE_JOBS_MAX_JOBS=str(conc)), "migrate"
        )
        try:
            settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                job = migrate_job(
                    src_bucket=self.src_bucket, src_prefix="src/", dst_bucket=dst, dst_prefix=prefix
                )
                started = time.perf_counter()
                handle = await client.enqueue(job)
                await wait_for_results(client.redis, queue, [handle.job_id], timeout=1800)
                # A migration may fan out into copy jobs: done when the queue is empty too.
                while await client.redis.zcard(queue):  # noqa: ASYNC110 - polling Redis
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
        finally:
            await ctx.stack.stop_worker(worker)
        return n / elapsed
