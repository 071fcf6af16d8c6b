"""Enqueueing: StorageJobsClient.enqueue_many vs arq's enqueue_job in a loop."""

from __future__ import annotations

import time

from arq.connections import RedisSettings, create_pool
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import CopyJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ._base import Context, Scenario

__all__ = ["Enqueue"]


class Enqueue(Scenario):
    """N small jobs (no worker running); jobs are built before the clock starts on both sides."""

    name = "enqueue"
    rows = (
        Row(
            key="enqueue",
            title="enqueue jobs",
            unit="jobs/s",
            ours_label="StorageJobsClient.enqueue_many",
            baseline_label="arq ArqRedis.enqueue_job in a loop (pickle)",
            checks=(Check("ratio", ">=", 5.0, ">= 5x baseline"),),
        ),
    )

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        n = ctx.sizes.enqueues
        jobs = [
            CopyJob(src_bucket="bench-src", src_key=f"src/{i}", dst_key=f"dst/{i}")
            for i in range(n)
        ]
        payloads = [job.model_dump_json() for job in jobs]
        rates: dict[str, float] = {}
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        for side in order:
            ctx.stack.flush_redis()
            if side == "ours":
                settings = Settings(redis_url=ctx.stack.redis_url, queue_name=ctx.stack.queue("eq"))
                async with StorageJobsClient(settings=settings) as client:
                    await client.redis.ping()
                    started = time.perf_counter()
                    handles = await client.enqueue_many(jobs)
                    elapsed = time.perf_counter() - started
                if sum(h.enqueued for h in handles) != n:
                    raise RuntimeError("enqueue_many did not enqueue every job")
            else:
                arq = await create_pool(RedisSettings.from_dsn(ctx.stack.redis_url))
                try:
                    await arq.ping()
                    queue = ctx.stack.queue("eq-arq")
                    started = time.perf_counter()
                    for payload in payloads:
                        job = await arq.enqueue_job("copy", payload, _queue_name=queue)
                        if job is None:
                            raise RuntimeError("arq refused a job")
                    elapsed = time.perf_counter() - started
                finally:
                    await arq.aclose()
            rates[side] = n / elapsed
        ctx.stack.flush_redis()
        return {"enqueue": Sample(rates["ours"], rates["baseline"])}
