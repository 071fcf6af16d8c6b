"""Bulk delete: one DeleteJob vs direct batched delete_objects, both through a counting proxy."""

from __future__ import annotations

import asyncio
import math
import time

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy
from storage_jobs.jobs import DeleteJob
from storage_jobs.settings import Settings
from storage_jobs.storage import DELETE_BATCH_SIZE

from ..model import Check, Row, Sample
from ..stack import fill_via_filer, wait_for_results
from ._base import Context, Scenario

__all__ = ["Deletes"]


class Deletes(Scenario):
    """N existing keys deleted per side per run; keys are re-created between runs (not timed)."""

    name = "deletes"

    def __init__(self) -> None:
        self.proxy: FaultProxy | None = None
        self.keys: list[str] = []
        self.rows = (
            Row(
                key="bulk_delete",
                title="bulk delete",
                unit="keys/s",
                ours_label="one DeleteJob -> worker (delete concurrency 4)",
                baseline_label="direct batched delete_objects, concurrency 4",
                checks=(Check("ratio", ">=", 0.95, ">= 0.95x baseline"),),
            ),
        )

    @override
    async def setup(self, ctx: Context) -> None:
        n = ctx.sizes.deletes
        self.keys = [f"k/{i:07d}" for i in range(n)]
        expected = math.ceil(n / DELETE_BATCH_SIZE)
        self.rows = (
            Row(
                key=self.rows[0].key,
                title=f"bulk delete of {n:,} keys",
                unit=self.rows[0].unit,
                ours_label=self.rows[0].ours_label,
                baseline_label=self.rows[0].baseline_label,
                checks=(
                    *self.rows[0].checks,
                    Check(
                        "delete_requests",
                        "==",
                        expected,
                        f"exactly {expected} DeleteObjects requests",
                    ),
                ),
            ),
        )
        seaweed = ctx.stack.seaweedfs
        self.proxy = FaultProxy(
            seaweed.endpoint_url, credentials=(seaweed.access_key, seaweed.secret_key)
        )
        await asyncio.to_thread(self.proxy.start_in_thread)
        await self._fill(ctx)

    async def _fill(self, ctx: Context) -> None:
        for side in ("ours", "baseline"):
            await fill_via_filer(ctx.stack, ctx.stack.bucket(f"delete-{side}"), self.keys)

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop_thread)
            self.proxy = None

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        if run > 0:
            await self._fill(ctx)
        sides = [self._baseline, self._ours]
        if run % 2:
            sides.reverse()
        results: dict[str, tuple[float, int, int]] = {}
        for side in sides:
            name, rate, requests = await side(ctx)
            assert self.proxy is not None
            # Every S3 request of the side, DeleteObjects or not: nothing per key on top.
            results[name] = (rate, requests, self.proxy.stats["requests"])
        ours, ours_requests, ours_all = results["ours"]
        base, base_requests, base_all = results["baseline"]
        return {
            "bulk_delete": Sample(
                ours,
                base,
                {
                    "delete_requests": ours_requests,
                    "baseline_delete_requests": base_requests,
                    "s3_requests": ours_all,
                    "baseline_s3_requests": base_all,
                },
            )
        }

    def _counted(self) -> int:
        assert self.proxy is not None
        batches = self.proxy.delete_batches
        if any(len(b) > DELETE_BATCH_SIZE for b in batches):
            raise RuntimeError("a DeleteObjects request carried more than 1,000 keys")
        if sum(len(b) for b in batches) != len(self.keys):
            raise RuntimeError(f"{sum(len(b) for b in batches)} keys sent, not {len(self.keys)}")
        return len(batches)

    async def _baseline(self, ctx: Context) -> tuple[str, float, int]:
        assert self.proxy is not None
        bucket = ctx.stack.bucket("delete-baseline")
        conc = ctx.sizes.delete_concurrency
        async with ctx.stack.storage(pool=conc, endpoint_url=self.proxy.url) as storage:
            s3 = storage.s3
            await s3.head_bucket(Bucket=bucket)
            self.proxy.reset()
            slots = asyncio.Semaphore(conc)

            async def delete(batch: list[str]) -> None:
                async with slots:
                    answer = await s3.delete_objects(
                        Bucket=bucket,
                        Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                    )
                if answer.get("Errors"):
                    raise RuntimeError(f"baseline delete errors: {answer['Errors'][:3]}")

            started = time.perf_counter()
            keys = self.keys
            await asyncio.gather(
                *(
                    delete(keys[i : i + DELETE_BATCH_SIZE])
                    for i in range(0, len(keys), DELETE_BATCH_SIZE)
                )
            )
            elapsed = time.perf_counter() - started
        return "baseline", len(keys) / elapsed, self._counted()

    async def _ours(self, ctx: Context) -> tuple[str, float, int]:
        assert self.proxy is not None
        bucket = ctx.stack.bucket("delete-ours")
        queue = ctx.stack.queue("deletes")
        env = ctx.stack.worker_env(
            queue,
            endpoint_url=self.proxy.url,
            STORAGE_JOBS_S3_DELETE_CONCURRENCY=str(ctx.sizes.delete_concurrency),
        )
        worker = await ctx.stack.start_worker(env, "deletes")
        try:
            settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                self.proxy.reset()
                started = time.perf_counter()
                handle = await client.enqueue(DeleteJob(bucket=bucket, keys=self.keys))
                done = await wait_for_results(client.redis, queue, [handle.job_id], timeout=1800)
                elapsed = done - started
                result = await handle.result(timeout=10)
        finally:
            await ctx.stack.stop_worker(worker)
        if result.deleted_count != len(self.keys) or result.failed:
            raise RuntimeError(f"delete job: {result.deleted_count} deleted, {result.failed[:3]}")
        return "ours", len(self.keys) / elapsed, self._counted()
