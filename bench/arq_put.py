"""Baseline worker for the Redis-cost and peer benchmarks: plain arq doing ``put_object``.

One pooled aiobotocore client per process (as a careful arq user would write it), JSON on the
wire like ours, and one log line per finished job so the bench can count completions without
sending Redis commands of its own. Run as ``python -m bench.arq_put`` with ``BENCH_REDIS_URL``,
``BENCH_QUEUE``, ``BENCH_S3_URL``, ``BENCH_S3_KEY``, ``BENCH_S3_SECRET`` and, optionally,
``BENCH_POLL_DELAY`` and ``BENCH_MAX_JOBS`` set.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from arq import run_worker
from arq.connections import RedisSettings


async def put(ctx: dict[str, Any], bucket: str, key: str, data: str) -> int:
    """Uploads base64 ``data`` to ``bucket/key``; returns its size."""
    body = base64.b64decode(data)
    await ctx["s3"].put_object(Bucket=bucket, Key=key, Body=body)
    print(json.dumps({"event": "job.done", "key": key}), file=sys.stderr, flush=True)
    return len(body)


def client_config() -> AioConfig:
    """The plain client's config: a pool for 32 jobs at once, 3 attempts, botocore's defaults."""
    return AioConfig(max_pool_connections=64, retries={"total_max_attempts": 3})


async def _startup(ctx: dict[str, Any]) -> None:
    session = aioboto3.Session()
    config = client_config()
    ctx["s3_cm"] = session.client(
        "s3",
        endpoint_url=os.environ["BENCH_S3_URL"],
        aws_access_key_id=os.environ["BENCH_S3_KEY"],
        aws_secret_access_key=os.environ["BENCH_S3_SECRET"],
        region_name="us-east-1",
        config=config,
    )
    ctx["s3"] = await ctx["s3_cm"].__aenter__()
    print(json.dumps({"event": "worker.started"}), file=sys.stderr, flush=True)


async def _shutdown(ctx: dict[str, Any]) -> None:
    await ctx["s3_cm"].__aexit__(None, None, None)


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


class WorkerSettings:
    """arq's defaults but for the queue, Redis, JSON and the poll delay under test."""

    functions = [put]
    queue_name = os.environ.get("BENCH_QUEUE", "arq:queue")
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_REDIS_URL", "redis://"))
    poll_delay = float(os.environ.get("BENCH_POLL_DELAY", "0.5"))
    max_jobs = int(os.environ.get("BENCH_MAX_JOBS", "32"))
    job_serializer = _dumps
    job_deserializer = json.loads
    on_startup = _startup
    on_shutdown = _shutdown


if __name__ == "__main__":
    run_worker(WorkerSettings)  # type: ignore[arg-type]
