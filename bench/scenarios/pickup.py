"""Pickup latency of an idle worker, and how many Redis commands an idle worker sends."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis as sync_redis
from arq.connections import RedisSettings, create_pool
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import DeleteJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ._base import Context, PrivateRedisScenario

__all__ = ["Pickup"]


def percentile(values: list[float], pct: int) -> float:
    """The ``pct``-th percentile (inclusive linear interpolation)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def total_calls(client: sync_redis.Redis) -> int:
    """Commands the server has run so far (sum of INFO commandstats calls)."""
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return sum(int(v["calls"]) for v in stats.values() if isinstance(v, dict))


class Pickup(PrivateRedisScenario):
    """Idle workers on a private redis-server: count commands, then time pickups one by one.

    Latency is enqueue -> job start: ours from the worker's ``job.start`` log timestamp, arq's
    from the no-op function's own clock (same machine clock on both sides).
    """

    name = "pickup"
    rows = (
        Row(
            key="pickup_p50",
            title="pickup latency p50, idle worker",
            unit="ms",
            ours_label="storage-jobs worker (BLPOP wake-ups)",
            baseline_label="arq Worker, default 0.5 s poll",
            checks=(Check("ours", "<=", 5.0, "<= 5 ms"),),
            higher_is_better=False,
        ),
        Row(
            key="pickup_p99",
            title="pickup latency p99, idle worker",
            unit="ms",
            ours_label="storage-jobs worker (BLPOP wake-ups)",
            baseline_label="arq Worker, default 0.5 s poll",
            checks=(Check("ours", "<=", 50.0, "<= 50 ms"),),
            higher_is_better=False,
        ),
        Row(
            key="idle_commands",
            title="Redis commands/s sent by an idle worker",
            unit="commands/s",
            ours_label="storage-jobs worker",
            baseline_label="arq Worker, default 0.5 s poll",
            checks=(Check("ours", "<=", 5.0, "<= 5 commands/s"),),
            higher_is_better=False,
        ),
    )

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        results: dict[str, tuple[list[float], float]] = {}
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        for side in order:
            results[side] = await (self._ours(ctx, run) if side == "ours" else self._arq(ctx, run))
        (ours, ours_idle), (base, base_idle) = results["ours"], results["baseline"]
        return {
            "pickup_p50": Sample(percentile(ours, 50), percentile(base, 50)),
            "pickup_p99": Sample(percentile(ours, 99), percentile(base, 99)),
            "idle_commands": Sample(ours_idle, base_idle),
        }

    async def _idle_rate(self, ctx: Context) -> float:
        assert self.redis is not None
        client = sync_redis.Redis.from_url(self.redis.url)
        try:
            await asyncio.sleep(2.0)  # let start-up traffic settle
            before, t0 = total_calls(client), time.monotonic()
            await asyncio.sleep(ctx.sizes.idle_seconds)
            after, t1 = total_calls(client), time.monotonic()
        finally:
            client.close()
        # The first INFO is counted in the second snapshot; nothing else here talks to Redis.
        return (after - before - 1) / (t1 - t0)

    async def _pickups(
        self,
        ctx: Context,
        run: int,
        enqueue: Callable[[int], Awaitable[float | None]],
    ) -> list[float]:
        """Runs ``enqueue(i)`` one at a time with idle gaps; returns what they return, in ms."""
        rng = random.Random(run)  # noqa: S311 - spacing only
        out = []
        for i in range(ctx.sizes.pickups):
            # Short gaps keep the run short; they line arq's jobs up early in its 0.5 s poll
            # period, so its latency reads ~0.4 s rather than the ~0.25 s of random arrivals.
            await asyncio.sleep(rng.uniform(0.05, 0.15))
            value = await enqueue(i)
            if value is not None:
                out.append(value * 1000)
        return out

    async def _ours(self, ctx: Context, run: int) -> tuple[list[float], float]:
        assert self.redis is not None
        queue = ctx.stack.queue("pickup")
        bucket = ctx.stack.bucket("pickup")
        env = ctx.stack.worker_env(queue, redis_url=self.redis.url)
        worker = await ctx.stack.start_worker(env, "pickup")
        try:
            idle = await self._idle_rate(ctx)
            settings = Settings(redis_url=self.redis.url, queue_name=queue)
            sent: dict[str, float] = {}
            async with StorageJobsClient(settings=settings) as client:

                async def enqueue(i: int) -> None:
                    job = DeleteJob(bucket=bucket, keys=[f"missing/{run}/{i}"])
                    at = time.time()
                    handle = await client.enqueue(job)
                    sent[handle.job_id] = at
                    await wait_for_results(
                        client.redis, queue, [handle.job_id], timeout=30, interval=0.005
                    )

                await self._pickups(ctx, run, enqueue)
            starts = await asyncio.to_thread(worker.job_starts)
        finally:
            await ctx.stack.stop_worker(worker)
        missing = set(sent) - set(starts)
        if missing:
            raise RuntimeError(f"no job.start logged for {len(missing)} jobs")
        return [(starts[j] - at) * 1000 for j, at in sent.items()], idle

    async def _arq(self, ctx: Context, run: int) -> tuple[list[float], float]:
        assert self.redis is not None
        queue = ctx.stack.queue("pickup-arq")
        env = {"BENCH_REDIS_URL": self.redis.url, "BENCH_QUEUE": queue}
        worker = await ctx.stack.start_worker(
            env, "pickup-arq", argv=["-m", "bench.arq_noop"], ready_event="worker.started"
        )
        try:
            idle = await self._idle_rate(ctx)
            pool = await create_pool(RedisSettings.from_dsn(self.redis.url))
            try:

                async def enqueue(i: int) -> float:
                    at = time.time()
                    job = await pool.enqueue_job("noop", _queue_name=queue)
                    assert job is not None
                    started: float = await job.result(timeout=30, poll_delay=0.005)
                    return started - at

                latencies = await self._pickups(ctx, run, enqueue)
            finally:
                await pool.aclose()
        finally:
            await ctx.stack.stop_worker(worker)
        return latencies, idle
