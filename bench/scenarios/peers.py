"""Queued 1 KiB uploads against their peers, all in the same run.

Four sides, each timed end to end over the same number of 1 KiB objects: storage-jobs
(``enqueue_many`` -> one worker, ``max_jobs=32``), the same puts done directly with a plain
aioboto3 client at concurrency 32 (as a user would write it: the client ``bench/arq_put.py``
builds, not our ``StorageClient``, whose botocore tuning the ``uploads`` baseline shares), and a
plain arq worker doing the same ``put_object`` (``bench/arq_put.py``: that client, JSON on the
wire, ``max_jobs=32``) with arq's default poll delay (0.5 s) and with it tuned to 10 ms. arq's
producer is the best a user of arq can do: ``enqueue_job`` calls run concurrently
(``ARQ_CONCURRENCY`` in flight), timed with the worker (first enqueue to last result, as ours).
Every side is warmed with one untimed object first, starts from an idle SeaweedFS and a collected
heap here (``Stack.settle``), and the order of the sides rotates per run. Each side also records
the CPU milliseconds per object of every process in it and of everyone else on the machine, and
Redis commands per object (``bench/cpu.py``): counts that say where a moving ratio came from.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aioboto3
from arq.connections import ArqRedis, RedisSettings, create_pool
from typing_extensions import override

from ..arq_put import client_config
from ..cpu import CpuMeter, CpuWindow
from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ._base import Context, Scenario
from .enqueue import ARQ_CONCURRENCY
from .uploads import count_stored, queued_uploads

__all__ = ["Peers"]

SIDES = ("queue", "direct", "arq", "arq_tuned")
POLL_DELAYS = {"arq": 0.5, "arq_tuned": 0.01}
"""arq's default poll delay, and one tuned for a saturated queue."""


class Peers(Scenario):
    """N inline 1 KiB uploads on every side; one row per peer, sharing our figure."""

    name = "peers"
    rows = (
        Row(
            key="peers_direct",
            title="peers: queued uploads vs direct aioboto3",
            unit="objects/s",
            ours_label="queue: enqueue_many -> 1 worker (max_jobs=32)",
            baseline_label="direct put_object, plain aioboto3 client, concurrency 32",
            checks=(Check("ratio", ">=", 0.90, ">= 0.90x baseline"),),
        ),
        Row(
            key="peers_arq",
            title="peers: queued uploads vs plain arq (default poll)",
            unit="objects/s",
            ours_label="queue: enqueue_many -> 1 worker (max_jobs=32)",
            baseline_label="plain arq worker doing put_object, max_jobs=32, poll_delay 0.5 s",
            checks=(Check("ratio", ">=", 1.5, ">= 1.5x baseline"),),
        ),
        Row(
            key="peers_arq_tuned",
            title="peers: queued uploads vs plain arq (tuned poll)",
            unit="objects/s",
            ours_label="queue: enqueue_many -> 1 worker (max_jobs=32)",
            baseline_label="plain arq worker doing put_object, max_jobs=32, poll_delay 10 ms",
            checks=(Check("ratio", ">=", 1.5, ">= 1.5x baseline"),),
        ),
    )

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        n = ctx.sizes.peer_uploads
        bucket = ctx.stack.bucket("peers")
        body = bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        order = SIDES[run % len(SIDES) :] + SIDES[: run % len(SIDES)]
        rates: dict[str, float] = {}
        cpu: dict[str, CpuWindow] = {}
        settled: dict[str, float] = {}
        meter = CpuMeter(ctx.stack.redis_url, ctx.stack.seaweedfs.pid)
        try:
            for side in order:
                prefix = f"run{run}/{side}"
                settled[side] = await ctx.stack.settle()
                if side == "queue":
                    rates[side] = await queued_uploads(ctx, bucket, prefix, body, n, meter)
                elif side == "direct":
                    rates[side] = await _plain_direct_uploads(ctx, bucket, prefix, body, n, meter)
                else:
                    rates[side] = await _arq_uploads(
                        ctx, bucket, prefix, body, n, POLL_DELAYS[side], meter
                    )
                cpu[side] = meter.window
                ctx.stack.flush_redis()
        finally:
            meter.close()
        stored = await count_stored(ctx, bucket, [f"run{run}/{side}" for side in SIDES])
        ours, ours_stored = rates["queue"], stored[f"run{run}/queue"]
        ours_cpu = cpu["queue"].per_object(n)
        return {
            f"peers_{side}": Sample(
                ours,
                rates[side],
                {
                    "stored": ours_stored,
                    "baseline_stored": stored[f"run{run}/{side}"],
                    **ours_cpu,
                    **cpu[side].per_object(n, "baseline_"),
                    "settle_s": settled["queue"],
                    "baseline_settle_s": settled[side],
                },
            )
            for side in SIDES
            if side != "queue"
        }


async def _plain_direct_uploads(
    ctx: Context, bucket: str, prefix: str, body: bytes, n: int, meter: CpuMeter
) -> float:
    """Objects/s of ``n`` ``put_object`` calls at 32 through a plain aioboto3 client (warmed)."""
    conc, seaweed = ctx.sizes.upload_concurrency, ctx.stack.seaweedfs
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name="us-east-1",
        config=client_config(),
    ) as s3:
        await s3.put_object(Bucket=bucket, Key=f"{prefix}/warm", Body=body)
        keys = iter(range(n))

        async def lane() -> None:
            for i in keys:
                await s3.put_object(Bucket=bucket, Key=f"{prefix}/{i}", Body=body)

        meter.start()
        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(conc)))
        done = time.perf_counter()
        meter.stop()
        return n / (done - started)


async def _arq_uploads(
    ctx: Context,
    bucket: str,
    prefix: str,
    body: bytes,
    n: int,
    poll_delay: float,
    meter: CpuMeter,
) -> float:
    """Objects/s of ``n`` puts through a plain arq worker: first enqueue to last result."""
    data = base64.b64encode(body).decode()
    queue = ctx.stack.queue("peers-arq")
    seaweed = ctx.stack.seaweedfs
    env = {
        "BENCH_REDIS_URL": ctx.stack.redis_url,
        "BENCH_QUEUE": queue,
        "BENCH_S3_URL": seaweed.endpoint_url,
        "BENCH_S3_KEY": seaweed.access_key,
        "BENCH_S3_SECRET": seaweed.secret_key,
        "BENCH_POLL_DELAY": str(poll_delay),
        "BENCH_MAX_JOBS": str(ctx.sizes.upload_concurrency),
    }
    worker = await ctx.stack.start_worker(
        env, "peers-arq", argv=["-m", "bench.arq_put"], ready_event="worker.started"
    )
    pool = await create_pool(
        RedisSettings.from_dsn(ctx.stack.redis_url),
        job_serializer=lambda d: json.dumps(d).encode(),
        job_deserializer=json.loads,
        default_queue_name=queue,
    )
    try:
        warm = await pool.enqueue_job("put", bucket, f"{prefix}/warm", data)
        assert warm is not None
        await warm.result(timeout=60, poll_delay=0.05)
        meter.start(worker.pid)
        started = time.perf_counter()
        ids = await _enqueue_all(pool, [(bucket, f"{prefix}/{i}", data) for i in range(n)])
        # The same completion check as ours: EXISTS over the result keys every 20 ms.
        done = await wait_for_results(pool, queue, ids, timeout=600)
        meter.stop()
    finally:
        await pool.aclose()
        await ctx.stack.stop_worker(worker)
    return n / (done - started)


async def _enqueue_all(pool: ArqRedis, calls: list[tuple[str, str, str]]) -> list[str]:
    slots = asyncio.Semaphore(ARQ_CONCURRENCY)

    async def one(args: tuple[str, str, str]) -> str:
        async with slots:
            job = await pool.enqueue_job("put", *args)
            if job is None:
                raise RuntimeError("arq refused a job")
            return job.job_id

    return list(await asyncio.gather(*(one(a) for a in calls)))
