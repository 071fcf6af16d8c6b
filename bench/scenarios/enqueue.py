"""Enqueueing: StorageJobsClient.enqueue_many vs arq's enqueue_job, in a loop and concurrently."""

from __future__ import annotations

import asyncio
import time

from arq.connections import ArqRedis, RedisSettings, create_pool
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import CopyJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ._base import Context, Scenario

__all__ = ["ARQ_CONCURRENCY", "Enqueue"]

ARQ_CONCURRENCY = 128
"""``enqueue_job`` calls in flight for the concurrent baseline.

Each call holds a pooled connection for its WATCH/MULTI/EXEC, so an unbounded ``gather`` of
100,000 calls would open 100,000 connections (past Redis's default ``maxclients``); a
semaphore bounds them the way a user would. Swept over 1 to 1,000 calls in flight (20,000 jobs,
private redis-server, 2 shared cores): one at a time did 1,500-1,700 jobs/s, 16 to 64 did
1,000-1,700, 128 to 1,000 did 1,700-2,100; 128 is the smallest of the fastest (the client's CPU
is the bound, not round trips).
"""

SIDES = ("ours", "loop", "concurrent")


class Enqueue(Scenario):
    """N small jobs (no worker running); jobs are built before the clock starts on every side.

    ``enqueue_many`` is timed once per run and compared with two arq baselines of the same run:
    ``enqueue_job`` awaited one call at a time, and the best a user of arq can do,
    ``enqueue_job`` calls run concurrently with ``asyncio.gather``.
    """

    name = "enqueue"
    rows = (
        Row(
            key="enqueue",
            title="enqueue jobs vs arq loop",
            unit="jobs/s",
            ours_label="StorageJobsClient.enqueue_many",
            baseline_label="arq ArqRedis.enqueue_job awaited in a loop (pickle)",
            checks=(Check("ratio", ">=", 5.0, ">= 5x baseline"),),
        ),
        Row(
            key="enqueue_concurrent",
            title="enqueue jobs vs concurrent arq",
            unit="jobs/s",
            ours_label="StorageJobsClient.enqueue_many",
            baseline_label=(
                f"arq ArqRedis.enqueue_job, {ARQ_CONCURRENCY} calls in flight "
                "(asyncio.gather, pickle)"
            ),
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
        queued: dict[str, int] = {}
        # Rotate which side goes first, so none always gets the coldest (or warmest) Redis.
        order = SIDES[run % 3 :] + SIDES[: run % 3]
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
                    queued[side] = await client.redis.zcard(client.queue_name)
            else:
                arq = await create_pool(
                    RedisSettings.from_dsn(ctx.stack.redis_url), default_queue_name="bench"
                )
                try:
                    await arq.ping()
                    queue = ctx.stack.queue(f"eq-arq-{side}")
                    started = time.perf_counter()
                    if side == "loop":
                        await _arq_loop(arq, payloads, queue)
                    else:
                        await _arq_concurrent(arq, payloads, queue)
                    elapsed = time.perf_counter() - started
                    queued[side] = await arq.zcard(queue)
                finally:
                    await arq.aclose()
            rates[side] = n / elapsed
        ctx.stack.flush_redis()
        # The queue lengths read back from Redis: every side really enqueued n jobs.
        counts = {f"{side}_queued": float(count) for side, count in queued.items()}
        return {
            "enqueue": Sample(rates["ours"], rates["loop"], counts),
            "enqueue_concurrent": Sample(rates["ours"], rates["concurrent"], counts),
        }


async def _arq_loop(arq: ArqRedis, payloads: list[str], queue: str) -> None:
    for payload in payloads:
        if await arq.enqueue_job("copy", payload, _queue_name=queue) is None:
            raise RuntimeError("arq refused a job")


async def _arq_concurrent(arq: ArqRedis, payloads: list[str], queue: str) -> None:
    slots = asyncio.Semaphore(ARQ_CONCURRENCY)

    async def one(payload: str) -> None:
        async with slots:
            if await arq.enqueue_job("copy", payload, _queue_name=queue) is None:
                raise RuntimeError("arq refused a job")

    await asyncio.gather(*(one(p) for p in payloads))
