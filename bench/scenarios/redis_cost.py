"""What one queued 1 KiB upload costs Redis: commands and round trips, ours and plain arq's.

Counted, not timed, on a private ``redis-server``: ``INFO commandstats`` (commands a script runs
count, as does the ``EVALSHA`` itself) and ``INFO stats`` ``total_reads_processed`` (one read
event per client request or pipeline). The bench's own ``INFO`` calls are left out of both.
The producer's share is the delta over ``enqueue`` (ours: ``enqueue_many``; arq: concurrent
``enqueue_job`` calls), the worker's the delta from there until the last job's result is stored;
completions are counted from the worker's log, so the bench sends no Redis command meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis as sync_redis
from arq.connections import RedisSettings, create_pool
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..workers import WorkerProcess
from ._base import Context, PrivateRedisScenario

__all__ = ["Cost", "RedisCost", "counts"]

_MEASURING = ("cmdstat_info", "cmdstat_config")


def per_command(client: sync_redis.Redis) -> dict[str, int]:
    """Calls per command name so far (the measuring calls left out)."""
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return {
        k.removeprefix("cmdstat_"): int(v["calls"])
        for k, v in stats.items()
        if isinstance(v, dict) and k not in _MEASURING
    }


def _breakdown(side: str, before: dict[str, int], after: dict[str, int], n: int) -> None:
    """Logs the per-job calls of each command (what a reader of the results needs to act on)."""
    delta = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in after}
    shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v)
    print(f"[bench] redis_cost {side} per job: {shown}", file=sys.stderr, flush=True)


def cpu_seconds(client: sync_redis.Redis) -> float:
    """CPU time the server has used so far (user + system, main thread and all)."""
    cpu: dict[str, Any] = client.info("cpu")  # type: ignore[assignment]
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def counts(client: sync_redis.Redis) -> tuple[int, int]:
    """``(commands, reads)`` the server has processed, without the measuring calls."""
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    calls = sum(
        int(v["calls"]) for k, v in stats.items() if isinstance(v, dict) and k not in _MEASURING
    )
    reads = int(client.info("stats")["total_reads_processed"])  # type: ignore[index]
    return calls, reads


@dataclass(frozen=True)
class Cost:
    """Per-job Redis cost of one side.

    Attributes:
        producer_commands: Commands per job while enqueueing.
        worker_commands: Commands per job while the worker ran them.
        producer_reads: Round trips per job while enqueueing.
        worker_reads: Round trips per job while the worker ran them.
        cpu_us_per_command: redis-server CPU microseconds per command over the run.
    """

    producer_commands: float
    worker_commands: float
    producer_reads: float
    worker_reads: float
    cpu_us_per_command: float = 0.0

    @property
    def commands(self) -> float:
        """Commands per job, producer and worker together."""
        return self.producer_commands + self.worker_commands

    @property
    def reads(self) -> float:
        """Round trips per job, producer and worker together."""
        return self.producer_reads + self.worker_reads


async def _wait_for_done(worker: WorkerProcess, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = sum(1 for e in worker.events() if e.get("event") == "job.done")
        if done >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {count} jobs done after {timeout} s")
        await asyncio.sleep(0.05)


class RedisCost(PrivateRedisScenario):
    """N inline 1 KiB uploads through one worker (``max_jobs=32``), Redis traffic counted."""

    name = "redis_cost"
    rows: tuple[Row, ...] = (
        Row(
            key="commands",
            title="Redis commands per 1 KiB upload job (producer + worker)",
            unit="commands/job",
            ours_label="storage-jobs: enqueue_many + worker",
            baseline_label="plain arq: enqueue_job (concurrent) + Worker",
            checks=(Check("ours", "<=", 10.0, "<= 10 commands/job"),),
            higher_is_better=False,
        ),
        Row(
            key="reads",
            title="Redis round trips per 1 KiB upload job (producer + worker)",
            unit="round trips/job",
            ours_label="storage-jobs: enqueue_many + worker",
            baseline_label="plain arq: enqueue_job (concurrent) + Worker",
            checks=(Check("ours", "<=", 0.5, "<= 0.5 round trips/job"),),
            higher_is_better=False,
        ),
    )

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        ours = await self._ours(ctx, run)
        base = await self._arq(ctx, run)
        split = {
            "producer_commands": round(ours.producer_commands, 2),
            "worker_commands": round(ours.worker_commands, 2),
            "arq_producer_commands": round(base.producer_commands, 2),
            "arq_worker_commands": round(base.worker_commands, 2),
            "redis_cpu_us_per_command": round(ours.cpu_us_per_command, 2),
        }
        return {
            "commands": Sample(ours.commands, base.commands, extra=split),
            "reads": Sample(ours.reads, base.reads),
        }

    def _client(self) -> sync_redis.Redis:
        assert self.redis is not None
        client = sync_redis.Redis.from_url(self.redis.url)
        client.flushall()
        return client

    async def _ours(self, ctx: Context, run: int) -> Cost:
        assert self.redis is not None
        n, body = ctx.sizes.redis_cost_jobs, b"x" * ctx.sizes.upload_bytes
        bucket, queue = ctx.stack.bucket("redis-cost"), ctx.stack.queue("redis-cost")
        stats = self._client()
        env = ctx.stack.worker_env(
            queue, redis_url=self.redis.url, STORAGE_JOBS_MAX_JOBS=str(ctx.sizes.upload_concurrency)
        )
        worker = await ctx.stack.start_worker(env, "redis-cost")
        try:
            settings = Settings(redis_url=self.redis.url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                warm = await client.enqueue(UploadJob(bucket=bucket, key="warm", data=body))
                await warm.result(timeout=60)
                jobs = [UploadJob(bucket=bucket, key=f"r{run}/{i}", data=body) for i in range(n)]
                await client.redis.ping()  # connected before the count starts
                await asyncio.sleep(0.2)
                c0, r0 = counts(stats)
                p0, cpu0 = per_command(stats), cpu_seconds(stats)
                await client.enqueue_many(jobs)
                c1, r1 = counts(stats)
                p1 = per_command(stats)
            await _wait_for_done(worker, n + 1)
            await asyncio.sleep(0.5)  # the last result is stored just after its job.done line
            c2, r2 = counts(stats)
            cpu = (cpu_seconds(stats) - cpu0) * 1e6 / max(c2 - c0, 1)
            _breakdown("ours producer", p0, p1, n)
            _breakdown("ours worker", p1, per_command(stats), n)
        finally:
            await ctx.stack.stop_worker(worker)
            stats.close()
        return Cost((c1 - c0) / n, (c2 - c1) / n, (r1 - r0) / n, (r2 - r1) / n, cpu)

    async def _arq(self, ctx: Context, run: int, poll_delay: float = 0.5) -> Cost:
        assert self.redis is not None
        n = ctx.sizes.redis_cost_jobs
        data = base64.b64encode(b"x" * ctx.sizes.upload_bytes).decode()
        bucket, queue = ctx.stack.bucket("redis-cost"), ctx.stack.queue("redis-cost-arq")
        seaweed = ctx.stack.seaweedfs
        stats = self._client()
        env = {
            "BENCH_REDIS_URL": self.redis.url,
            "BENCH_QUEUE": queue,
            "BENCH_S3_URL": seaweed.endpoint_url,
            "BENCH_S3_KEY": seaweed.access_key,
            "BENCH_S3_SECRET": seaweed.secret_key,
            "BENCH_POLL_DELAY": str(poll_delay),
            "BENCH_MAX_JOBS": str(ctx.sizes.upload_concurrency),
        }
        worker = await ctx.stack.start_worker(
            env, "redis-cost-arq", argv=["-m", "bench.arq_put"], ready_event="worker.started"
        )
        pool = await create_pool(
            RedisSettings.from_dsn(self.redis.url),
            job_serializer=lambda d: json.dumps(d).encode(),
            job_deserializer=json.loads,
            default_queue_name=queue,
        )
        try:
            warm = await pool.enqueue_job("put", bucket, "warm-arq", data)
            assert warm is not None
            await warm.result(timeout=60, poll_delay=0.05)
            await asyncio.sleep(0.2)
            c0, r0 = counts(stats)
            p0 = per_command(stats)
            # The best a user can do with arq: concurrent enqueue_job calls, 100 at a time.
            for start in range(0, n, 100):
                await asyncio.gather(
                    *(
                        pool.enqueue_job("put", bucket, f"arq{run}/{i}", data)
                        for i in range(start, min(n, start + 100))
                    )
                )
            c1, r1 = counts(stats)
            p1 = per_command(stats)
            await _wait_for_done(worker, n + 1)
            await asyncio.sleep(0.5)
            c2, r2 = counts(stats)
            _breakdown("arq producer", p0, p1, n)
            _breakdown("arq worker", p1, per_command(stats), n)
        finally:
            await pool.aclose()
            await ctx.stack.stop_worker(worker)
            stats.close()
        return Cost((c1 - c0) / n, (c2 - c1) / n, (r1 - r0) / n, (r2 - r1) / n)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through `python -m bench --only redis_cost`")
