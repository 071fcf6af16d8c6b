"""Redis cost of one queue over three shards on a 3-master cluster, against one server.

The same workload as ``redis_cost`` (N inline 1 KiB uploads, ``enqueue_many`` + one worker with
``max_jobs=32``), counted the same way (``INFO commandstats``, ``total_reads_processed``), run
twice in each run: on a private 3-master Redis Cluster with ``STORAGE_JOBS_QUEUE_SHARDS=3``
(counts summed over the masters), and on a private single server with one shard (the baseline).
Each master's share of the cluster's commands shows how evenly the shards spread the load.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import redis as sync_redis
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack.redis_cluster import RedisCluster, find_cluster_server
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ._base import Context
from .redis_cost import Cost, RedisCost, _breakdown, _wait_for_done, counts, per_command

__all__ = ["RedisCostCluster"]

SHARDS = 3


class RedisCostCluster(RedisCost):
    """``redis_cost`` on a 3-master cluster with three shards; one server is the baseline."""

    name = "redis_cost_cluster"
    rows = (
        Row(
            key="cluster_commands",
            title="Redis commands per 1 KiB upload job, 3 shards on a 3-master cluster",
            unit="commands/job",
            ours_label="3 shards on a 3-master cluster (all masters summed)",
            baseline_label="1 shard on one server (same run)",
            checks=(Check("ours", "<=", 6.0, "<= 6 commands/job"),),
            higher_is_better=False,
        ),
        Row(
            key="cluster_reads",
            title="Redis round trips per 1 KiB upload job, 3 shards on a 3-master cluster",
            unit="round trips/job",
            ours_label="3 shards on a 3-master cluster (all masters summed)",
            baseline_label="1 shard on one server (same run)",
            checks=(Check("ours", "<=", 0.3, "<= 0.3 round trips/job"),),
            higher_is_better=False,
        ),
        Row(
            key="cluster_share",
            title="Largest distance of a master's share of the commands from a third",
            unit="fraction of a third",
            ours_label="3 shards on a 3-master cluster",
            baseline_label="one unsharded queue: one master takes it all",
            checks=(Check("ours", "<=", 0.25, "within 25 % of a third"),),
            higher_is_better=False,
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self.cluster: RedisCluster | None = None

    @override
    async def setup(self, ctx: Context) -> None:
        await super().setup(ctx)
        self.cluster = RedisCluster(server=find_cluster_server(), parent=ctx.workdir)
        await asyncio.to_thread(self.cluster.start)

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
            self.cluster = None
        await super().teardown(ctx)

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        ours, shares = await self._on_cluster(ctx, run)
        base = await self._ours(ctx, run)
        spread = max(abs(share * SHARDS - 1) for share in shares)
        extra: dict[str, Any] = {f"master_{i}_share": round(s, 3) for i, s in enumerate(shares)}
        return {
            "cluster_commands": Sample(ours.commands, base.commands, extra=extra),
            "cluster_reads": Sample(ours.reads, base.reads),
            # Unsharded, one slot holds the queue: one master takes every command (share 1).
            "cluster_share": Sample(spread, float(SHARDS - 1), extra=extra),
        }

    async def _on_cluster(self, ctx: Context, run: int) -> tuple[Cost, list[float]]:
        assert self.cluster is not None
        n, body = ctx.sizes.redis_cost_jobs, b"x" * ctx.sizes.upload_bytes
        bucket, queue = ctx.stack.bucket("redis-cost-cl"), ctx.stack.queue("redis-cost-cl")
        masters = [sync_redis.Redis(port=port) for port in self.cluster.master_ports]
        env = ctx.stack.worker_env(
            queue,
            redis_url=self.cluster.url,
            STORAGE_JOBS_MAX_JOBS=str(ctx.sizes.upload_concurrency),
            STORAGE_JOBS_QUEUE_SHARDS=str(SHARDS),
        )
        worker = await ctx.stack.start_worker(env, "redis-cost-cluster")
        try:
            settings = Settings(redis_url=self.cluster.url, queue_name=queue, queue_shards=SHARDS)
            async with StorageJobsClient(settings=settings) as client:
                warm = await client.enqueue(UploadJob(bucket=bucket, key="warm", data=body))
                await warm.result(timeout=60)
                jobs = [UploadJob(bucket=bucket, key=f"c{run}/{i}", data=body) for i in range(n)]
                await asyncio.sleep(0.2)
                before = [counts(m) for m in masters]
                calls_before = _summed(masters)
                await client.enqueue_many(jobs)
                enqueued = [counts(m) for m in masters]
                calls_enqueued = _summed(masters)
            await _wait_for_done(worker, n + 1)
            await asyncio.sleep(0.5)  # the last result is stored just after its job.done line
            after = [counts(m) for m in masters]
            _breakdown("cluster producer", calls_before, calls_enqueued, n)
            _breakdown("cluster worker", calls_enqueued, _summed(masters), n)
        finally:
            await ctx.stack.stop_worker(worker)
            for master in masters:
                master.close()
        commands = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
        shares = [c / max(1, sum(commands)) for c in commands]

        def total(end: list[tuple[int, int]], start: list[tuple[int, int]], i: int) -> float:
            return sum(e[i] - s[i] for e, s in zip(end, start, strict=True)) / n

        cost = Cost(
            total(enqueued, before, 0),
            total(after, enqueued, 0),
            total(enqueued, before, 1),
            total(after, enqueued, 1),
        )
        return cost, shares


def _summed(masters: list[sync_redis.Redis]) -> dict[str, int]:
    """Calls per command name so far, over every master."""
    total: dict[str, int] = {}
    for master in masters:
        for name, calls in per_command(master).items():
            total[name] = total.get(name, 0) + calls
    return total


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through `python -m bench --only redis_cost_cluster`")
