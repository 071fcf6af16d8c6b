"""What ``STORAGE_JOBS_REDIS_WAIT_REPLICAS=1`` costs: the same queued uploads with WAIT and without.

A private ``redis-server`` master with one replica (``--replicaof``). Each run queues the
``redis_cost`` workload twice, WAIT off (the default) and WAIT on (``redis_wait_replicas=1`` for
the producer and the worker), alternating which goes first:

- ``redis_cost_jobs`` inline 1 KiB ``UploadJob``s, ``enqueue_many`` -> one worker
  (``max_jobs=32``), timed from the first enqueue to the last result seen on the replica (the
  bench polls the replica, so the master serves only the producer and the worker): jobs/s and
  the ``enqueue_many`` call's time. Counted on the master meanwhile: commands per job
  (``INFO commandstats``, script-inner ones included; the replication link's ``REPLCONF`` left
  out and reported apart), round trips per job (``total_reads_processed`` less those
  ``REPLCONF``s and the bench's own ``INFO`` calls; the replica's once-a-second ``ACK`` read
  together with a ``WAIT``'s takes one read too many off, so a round trip per call is judged
  as at most one) and ``WAIT`` calls per job.
- Then, the worker stopped, ``SINGLES`` single ``client.enqueue`` calls awaited one at a time:
  the ``WAIT`` calls and round trips each cost.

The producer's latency is timed apart, once a run, with no worker: ``SINGLES`` single enqueues
a side from two clients, one with WAIT and one without, taking turns call by call (the first
of each pair alternating), so both sides see the same moment of a loaded machine.

Each side runs twice a run, in the order off, on, on, off (on, off, off, on in odd runs), and
its figures are the mean of its two passes: a machine whose load drifts during the run moves
both sides alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from functools import partial

import redis as sync_redis
from redis.asyncio import Redis
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ._base import Context, PrivateRedisScenario
from ._tally import Side, Tally
from .uploads import count_stored

__all__ = ["ReplicaWait"]

SIDES = ("off", "on")
SINGLES = 200
"""Single enqueues timed one at a time on each side."""
WAIT_TIMEOUT_S = 5.0
"""Each WAIT's bound (the default is 1 s): a loaded shared machine must not fail a run."""


_row = partial(
    Row,
    ours_label="STORAGE_JOBS_REDIS_WAIT_REPLICAS=1, one replica",
    baseline_label="no WAIT (the default), same master and replica",
)


def _settings(url: str, queue: str, side: str) -> Settings:
    """A producer's settings on one side (WAIT for one replica, or none)."""
    replicas = 1 if side == "on" else 0
    return Settings(
        redis_url=url,
        queue_name=queue,
        redis_wait_replicas=replicas,
        redis_wait_timeout=WAIT_TIMEOUT_S,
    )


class ReplicaWait(PrivateRedisScenario):
    """N inline 1 KiB uploads with ``WAIT 1`` after enqueue and finish, and without it."""

    name = "replica_wait"
    rows = (
        _row(
            key="wait_commands",
            title="replica wait: Redis commands per 1 KiB upload job (producer + worker)",
            unit="commands/job",
            checks=(
                Check("baseline_waits_per_job", "==", 0.0, "no WAIT when off"),
                Check("waits_per_job", "<=", 0.25, "<= 0.25 WAIT/job"),
            ),
            higher_is_better=False,
        ),
        _row(
            key="wait_reads",
            title="replica wait: Redis round trips per 1 KiB upload job (producer + worker)",
            unit="round trips/job",
            checks=(Check("ratio", "<=", 1.25, "<= 1.25x without WAIT"),),
            higher_is_better=False,
        ),
        _row(
            key="wait_throughput",
            title="replica wait: queued 1 KiB uploads, 1 worker (max_jobs=32)",
            unit="jobs/s",
            checks=(
                Check("missing", "==", 0.0, "every object stored on both sides"),
                Check("short_waits", "==", 0.0, "every finish's WAIT acknowledged"),
            ),
        ),
        _row(
            key="wait_enqueue",
            title="replica wait: one client.enqueue, awaited one at a time (median latency)",
            unit="ms",
            checks=(
                Check("waits_per_enqueue", "==", 1.0, "one WAIT per enqueue"),
                Check("baseline_waits_per_enqueue", "==", 0.0, "none when off"),
                Check("reads_per_enqueue", "<=", 1.0, "one round trip per enqueue"),
                Check("baseline_reads_per_enqueue", "<=", 1.0, "one when off"),
            ),
            higher_is_better=False,
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self.replica: RedisServer | None = None

    @override
    async def setup(self, ctx: Context) -> None:
        """The master (the private server) and its replica, connected."""
        await super().setup(ctx)
        assert self.redis is not None
        args = ["--replicaof", "127.0.0.1", str(self.redis.port)]
        self.replica = RedisServer(ctx.workdir / "redis-replica-wait-replica", extra_args=args)
        await asyncio.to_thread(self.replica.start)
        master = sync_redis.Redis.from_url(self.redis.url)
        try:
            for _ in range(200):
                if int(master.info("replication")["connected_slaves"]) == 1:  # type: ignore[index]
                    return
                await asyncio.sleep(0.05)
            raise RuntimeError("the replica did not connect to the master")
        finally:
            master.close()

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.replica is not None:
            await asyncio.to_thread(self.replica.stop)
            self.replica = None
        await super().teardown(ctx)

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        first, second = SIDES if run % 2 == 0 else SIDES[::-1]
        passes: dict[str, list[Side]] = {side: [] for side in SIDES}
        for i, side in enumerate((first, second, second, first)):
            passes[side].append(await self._side(ctx, f"run{run}/{side}{i}", side))
        bucket = ctx.stack.bucket("replica-wait")
        prefixes = [f"run{run}/{side}{i}" for i, side in enumerate((first, second, second, first))]
        by_prefix = await count_stored(ctx, bucket, prefixes)
        stored = {
            side: statistics.mean(
                v for p, v in by_prefix.items() if p.startswith(f"run{run}/{side}")
            )
            for side in SIDES
        }
        on, off = Side.mean(passes["on"]), Side.mean(passes["off"])
        latency = await self._latencies(ctx, run)
        p50 = {side: statistics.median(ms) for side, ms in latency.items()}
        p99 = {side: statistics.quantiles(ms, n=100)[98] for side, ms in latency.items()}
        n = ctx.sizes.redis_cost_jobs
        return {
            "wait_commands": Sample(
                on.jobs["commands"],
                off.jobs["commands"],
                {
                    "waits_per_job": on.jobs["waits"],
                    "baseline_waits_per_job": off.jobs["waits"],
                    "replconf_per_job": on.jobs["replconf"],
                    "baseline_replconf_per_job": off.jobs["replconf"],
                    "redis_cpu_us_per_job": on.jobs["cpu_us"],
                    "baseline_redis_cpu_us_per_job": off.jobs["cpu_us"],
                },
            ),
            "wait_reads": Sample(on.jobs["reads"], off.jobs["reads"]),
            "wait_throughput": Sample(
                on.rate,
                off.rate,
                {
                    "stored": stored["on"],
                    "baseline_stored": stored["off"],
                    "missing": 4 * n - sum(by_prefix.values()),
                    "short_waits": on.short_waits + off.short_waits,
                },
            ),
            "wait_enqueue": Sample(
                p50["on"],
                p50["off"],
                {
                    "p99_ms": p99["on"],
                    "baseline_p99_ms": p99["off"],
                    "p99_ratio": p99["on"] / p99["off"],
                    "waits_per_enqueue": on.singles["waits"],
                    "baseline_waits_per_enqueue": off.singles["waits"],
                    "reads_per_enqueue": on.singles["reads"],
                    "baseline_reads_per_enqueue": off.singles["reads"],
                    "enqueue_many_ms": on.enqueue_many_ms,
                    "baseline_enqueue_many_ms": off.enqueue_many_ms,
                    "enqueue_many_ratio": on.enqueue_many_ms / off.enqueue_many_ms,
                },
            ),
        }

    async def _side(self, ctx: Context, prefix: str, side: str) -> Side:
        assert self.redis is not None
        assert self.replica is not None
        n, body = ctx.sizes.redis_cost_jobs, bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        bucket, queue = ctx.stack.bucket("replica-wait"), ctx.stack.queue("replica-wait")
        replicas = 1 if side == "on" else 0
        master = sync_redis.Redis.from_url(self.redis.url)
        master.flushall()  # replicated: the replica is flushed too
        replica = Redis.from_url(self.replica.url)
        env = ctx.stack.worker_env(
            queue,
            redis_url=self.redis.url,
            STORAGE_JOBS_MAX_JOBS=str(ctx.sizes.upload_concurrency),
            STORAGE_JOBS_REDIS_WAIT_REPLICAS=str(replicas),
            STORAGE_JOBS_REDIS_WAIT_TIMEOUT=str(WAIT_TIMEOUT_S),
        )
        settings = _settings(self.redis.url, queue, side)
        worker = await ctx.stack.start_worker(env, "replica-wait")
        try:
            async with StorageJobsClient(settings=settings) as client:
                warm = await client.enqueue(
                    UploadJob(bucket=bucket, key=f"{prefix}/warm", data=body)
                )
                await warm.result(timeout=60)
                jobs = [UploadJob(bucket=bucket, key=f"{prefix}/{i}", data=body) for i in range(n)]
                await asyncio.sleep(0.2)
                start = Tally.of(master)
                started = time.perf_counter()
                handles = await client.enqueue_many(jobs)
                enqueued = time.perf_counter()
                ids = [h.job_id for h in handles]
                done = await wait_for_results(replica, queue, ids, timeout=600)
                await asyncio.sleep(0.3)  # the last finish's WAIT counted
                per_job = Tally.of(master).since(start, n)
                await ctx.stack.stop_worker(worker)
                short = sum(1 for e in worker.events() if e.get("event") == "redis.wait_short")
                singles = Tally.of(master)
                for i in range(SINGLES):
                    await client.enqueue(
                        UploadJob(bucket=bucket, key=f"{prefix}-single/{i}", data=body)
                    )
                per_single = Tally.of(master).since(singles, SINGLES)
        finally:
            await ctx.stack.stop_worker(worker)
            await replica.aclose()
            master.close()
        return Side(
            jobs=per_job,
            rate=n / (done - started),
            enqueue_many_ms=(enqueued - started) * 1000,
            singles=per_single,
            short_waits=float(short),
        )

    async def _latencies(self, ctx: Context, run: int) -> dict[str, list[float]]:
        """Milliseconds of each single enqueue per side, the two sides taking turns."""
        assert self.redis is not None
        bucket, queue = ctx.stack.bucket("replica-wait"), ctx.stack.queue("replica-wait")
        body = b"x" * ctx.sizes.upload_bytes
        master = sync_redis.Redis.from_url(self.redis.url)
        master.flushall()
        master.close()
        latency: dict[str, list[float]] = {side: [] for side in SIDES}
        async with contextlib.AsyncExitStack() as stack:
            clients = {}
            for side in SIDES:
                settings = _settings(self.redis.url, queue, side)
                client = await stack.enter_async_context(StorageJobsClient(settings=settings))
                await client.enqueue(UploadJob(bucket=bucket, key=f"{side}/warm", data=body))
                clients[side] = client
            for i in range(SINGLES):
                for side in SIDES if i % 2 == run % 2 else SIDES[::-1]:
                    job = UploadJob(bucket=bucket, key=f"run{run}/{side}-timed/{i}", data=body)
                    began = time.perf_counter()
                    await clients[side].enqueue(job)
                    latency[side].append((time.perf_counter() - began) * 1000)
        return latency


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through `python -m bench --only replica_wait`")
