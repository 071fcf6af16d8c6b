"""Scaling out: 1 vs 2 vs 4 worker processes, S3 behind a proxy adding ~200 ms per request."""

from __future__ import annotations

import asyncio
import time

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ._base import Context, Scenario

__all__ = ["Scaling"]

_LABEL = "N workers, same max_jobs each, 1 KiB uploads, +200 ms S3 latency"


class Scaling(Scenario):
    """Throughput of N small upload jobs with 1, 2 and 4 workers; the bound is concurrency."""

    name = "scaling"
    rows = (
        Row(
            key="scaling_2",
            title="2 workers vs 1 (S3 +200 ms)",
            unit="jobs/s",
            ours_label=_LABEL.replace("N workers", "2 workers"),
            baseline_label="1 worker",
            checks=(Check("ratio", ">=", 1.8, ">= 1.8x"),),
        ),
        Row(
            key="scaling_4",
            title="4 workers vs 1 (S3 +200 ms)",
            unit="jobs/s",
            ours_label=_LABEL.replace("N workers", "4 workers"),
            baseline_label="1 worker",
            checks=(Check("ratio", ">=", 3.2, ">= 3.2x"),),
        ),
    )

    def __init__(self) -> None:
        self.proxy: FaultProxy | None = None

    @override
    async def setup(self, ctx: Context) -> None:
        seaweed = ctx.stack.seaweedfs
        self.proxy = FaultProxy(
            seaweed.endpoint_url,
            rules=FaultRules(latency_s=ctx.sizes.scaling_latency_s),
            credentials=(seaweed.access_key, seaweed.secret_key),
        )
        await asyncio.to_thread(self.proxy.start_in_thread)

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop_thread)
            self.proxy = None

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        counts = (1, 2, 4) if run % 2 == 0 else (4, 2, 1)
        rates = {count: await self._throughput(ctx, run, count) for count in counts}
        return {
            "scaling_2": Sample(rates[2], rates[1]),
            "scaling_4": Sample(rates[4], rates[1]),
        }

    async def _throughput(self, ctx: Context, run: int, count: int) -> float:
        assert self.proxy is not None
        n = ctx.sizes.scaling_jobs
        queue = ctx.stack.queue(f"scale{count}")
        bucket = ctx.stack.bucket("scaling")
        env = ctx.stack.worker_env(
            queue,
            endpoint_url=self.proxy.url,
            STORAGE_JOBS_MAX_JOBS=str(ctx.sizes.scaling_max_jobs),
        )
        workers = [await ctx.stack.start_worker(env, f"scale{count}-{i}") for i in range(count)]
        try:
            settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                body = b"s" * 1024
                jobs = [
                    UploadJob(bucket=bucket, key=f"run{run}/w{count}/{i}", data=body)
                    for i in range(n)
                ]
                started = time.perf_counter()
                handles = await client.enqueue_many(jobs)
                done = await wait_for_results(
                    client.redis, queue, [h.job_id for h in handles], timeout=900
                )
        finally:
            for worker in workers:
                await ctx.stack.stop_worker(worker)
        return n / (done - started)
