"""The cluster-wide S3 rate limit, measured at the fault proxy: four worker subprocesses.

Counts, not timings, are asserted: requests in the busiest 10 s window (over the proxy's
arrival times) and the limiter's script calls per S3 request on a private redis-server
(``INFO commandstats``; only the limiter's script runs ``TIME``).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

import pytest
import redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, RedisServer, SeaweedFS
from storage_jobs.devstack.faultproxy import max_window_rate
from storage_jobs.jobs import MigrateJob
from storage_jobs.settings import Settings
from tests.fixtures_e2e import fill
from tests.workers import InProcessWorker, StartInProcess

pytestmark = pytest.mark.integration

RATE = 100.0
LIMITED = 1300  # 13 s of the limit: more than one 10 s window
FREE = 1000
SLOW_RATE = 30.0  # a limit this shared 2-core box surely outruns, so the cap binds
SLOW = 360  # 12 s of its limit


def script_calls(server: RedisServer) -> int:
    """The rate limiter's script calls so far (its ``TIME`` calls)."""
    (calls,) = time_calls([server.port])
    return calls


def held_requests(worker: InProcessWorker, bucket: str) -> float:
    """``storage_jobs_s3_rate_limited_total`` of one bucket, read from the worker's /metrics."""
    port = next(e["port"] for e in worker.events("metrics.listening"))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    sample = f'storage_jobs_s3_rate_limited_total{{bucket="{bucket}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample))


def arrivals(proxy: FaultProxy, bucket: str) -> list[float]:
    """When each request for ``bucket`` reached the proxy."""
    return [t for t, b in list(proxy.arrivals) if b == bucket]


async def test_four_workers_stay_under_the_shared_limit(
    private_redis: RedisServer,  # first: set up before the workers, torn down after them
    start_in_process: StartInProcess,
    fault_proxy: FaultProxy,
    seaweedfs: SeaweedFS,
    bucket: str,
    queue_name: str,
) -> None:
    """100 requests/s on one bucket: at most 105/s over any 10 s; another bucket runs free.

    Migrations re-run over destinations that hold identical objects (one light HEAD a key, no
    copy): from ``bucket`` into ``free`` (no limit), into ``dst`` (100/s), then into ``slow``
    (30/s, a cap these workers outrun on any machine); batches of 100 keys, 8 HEADs in flight
    each, 16 jobs a worker.
    """
    free, dst, slow = f"{bucket}-free", f"{bucket}-dst", f"{bucket}-slow"
    for name in (free, dst, slow):
        seaweedfs.client().create_bucket(Bucket=name)
    await fill(seaweedfs, bucket, [f"f/{i:05d}" for i in range(FREE)])
    await fill(seaweedfs, bucket, [f"l/{i:05d}" for i in range(LIMITED)])
    await fill(seaweedfs, bucket, [f"s/{i:05d}" for i in range(SLOW)])
    await fill(seaweedfs, free, [f"{i:05d}" for i in range(FREE)])
    await fill(seaweedfs, dst, [f"{i:05d}" for i in range(LIMITED)])
    await fill(seaweedfs, slow, [f"{i:05d}" for i in range(SLOW)])
    env = {
        "STORAGE_JOBS_REDIS_URL": private_redis.url,
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_RATE_LIMITS": json.dumps({dst: RATE, slow: SLOW_RATE}),
        "STORAGE_JOBS_LEASE_SECONDS": "20",
        "STORAGE_JOBS_MAX_JOBS": "16",
        "STORAGE_JOBS_METRICS_PORT": "0",
    }
    # In this process: the limit is shared through Redis, whatever process each worker is in.
    workers = [await start_in_process(**env) for _ in range(4)]
    settings = Settings(redis_url=private_redis.url, queue_name=queue_name)
    async with StorageJobsClient(settings=settings) as jobs:
        # The unlimited bucket first: how fast the same workers go without the limit.
        calls_before = script_calls(private_redis)
        job = MigrateJob(src_bucket=bucket, src_prefix="f/", dst_bucket=free, batch_size=100)
        result = await (await jobs.enqueue(job)).result(timeout=600)
        assert result.skipped == FREE
        assert script_calls(private_redis) == calls_before  # no limit, no Redis call
        unlimited = arrivals(fault_proxy, free)
        unlimited_rate = len(unlimited) / max(unlimited[-1] - unlimited[0], 1e-3)

        calls_before = script_calls(private_redis)
        job = MigrateJob(src_bucket=bucket, src_prefix="l/", dst_bucket=dst, batch_size=100)
        result = await (await jobs.enqueue(job)).result(timeout=600)
        calls = script_calls(private_redis) - calls_before
        job = MigrateJob(src_bucket=bucket, src_prefix="s/", dst_bucket=slow, batch_size=100)
        assert (await (await jobs.enqueue(job)).result(timeout=600)).skipped == SLOW
    capped = arrivals(fault_proxy, slow)
    capped_rate = max_window_rate(capped, 10.0)
    limited = arrivals(fault_proxy, dst)
    window_rate = max_window_rate(limited, 10.0)
    per_request = calls / len(limited)
    print(
        f"rate limit {RATE:.0f}/s, 4 workers: {len(limited)} requests in "
        f"{limited[-1] - limited[0]:.1f} s, busiest 10 s window {window_rate:.1f}/s; "
        f"unlimited bucket {unlimited_rate:.1f}/s; "
        f"{calls} limiter script calls, {per_request:.3f} per S3 request; "
        f"at {SLOW_RATE:.0f}/s: {len(capped)} requests, busiest 10 s window {capped_rate:.1f}/s",
        file=sys.stderr,
    )
    assert result.skipped == LIMITED
    assert len(limited) >= LIMITED  # the HEADs, a listing, the report
    assert not fault_proxy.copies  # nothing was copied
    assert limited[-1] - limited[0] > 10.0  # at least one full window
    assert window_rate <= RATE * 1.05
    assert per_request <= 0.25  # batched: about one call per 5 requests at 100/s
    assert capped_rate <= SLOW_RATE * 1.05
    # Demand above the limit: requests to the 30/s bucket were held back (nearly all of them),
    # as the workers' metrics count and their logs say.
    slow_held = sum(held_requests(w, slow) for w in workers)
    assert slow_held >= SLOW / 2, slow_held
    held = [e for w in workers for e in w.events("s3.rate_limited")]
    print(f"held back: {sum(int(e['waits']) for e in held)} logged waits", file=sys.stderr)
    assert held and {e["bucket"] for e in held} <= {dst, slow}
    assert sum(int(e["waits"]) for e in held) > LIMITED / 10


def time_calls(ports: list[int]) -> list[int]:
    """Each server's ``TIME`` calls so far: the rate limiter's script calls on it."""
    stats: list[dict[str, Any]] = [redis.Redis(port=p).info("commandstats") for p in ports]  # type: ignore[misc]
    return [int(s.get("cmdstat_time", {}).get("calls", 0)) for s in stats]


@pytest.mark.parametrize(
    "layout", ["sharded", "cluster", pytest.param("valkey", marks=pytest.mark.slow)], indirect=True
)
async def test_the_limit_holds_over_every_shard_and_worker(
    layout: str,
    request: pytest.FixtureRequest,
    start_in_process: StartInProcess,
    fault_proxy: FaultProxy,
    seaweedfs: SeaweedFS,
    jobs: StorageJobsClient,
    bucket: str,
) -> None:
    """30 requests/s on one bucket from three shards and two workers: 31.5/s at most.

    Three migrations, one on each shard (their batches follow them), over destinations holding
    identical objects: the busiest 10 s window of requests to the limited bucket, counted at the
    proxy; on a cluster every limiter call lands on the one master holding the bucket's schedule
    (one schedule per bucket, whichever shard a job is on).
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    per_job = SLOW // 3
    for n in range(3):
        await fill(seaweedfs, bucket, [f"{n}/{i:05d}" for i in range(per_job)])
        await fill(seaweedfs, dst, [f"{n}/{i:05d}" for i in range(per_job)])
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_RATE_LIMITS": json.dumps({dst: SLOW_RATE}),
        "STORAGE_JOBS_LEASE_SECONDS": "20",
        "STORAGE_JOBS_MAX_JOBS": "16",
    }
    workers = [await start_in_process(**env) for _ in range(2)]
    shard_ids: dict[int, str] = {}  # a migration id on each shard (its batches follow it)
    for i in range(100):
        shard_ids.setdefault(jobs.queue.layout.index(f"m{i}"), f"m{i}")
    assert len(shard_ids) == 3
    name = f"{layout.replace('cluster', 'redis')}_cluster"
    cluster = None if layout == "sharded" else request.getfixturevalue(name)
    ports = cluster.master_ports if cluster is not None else []
    before = time_calls(ports)
    handles = [
        await jobs.enqueue(
            MigrateJob(
                src_bucket=bucket,
                src_prefix=f"{n}/",
                dst_bucket=dst,
                dst_prefix=f"{n}/",
                batch_size=20,
            ),
            job_id=shard_ids[n],
        )
        for n in range(3)
    ]
    for handle in handles:
        assert (await handle.result(timeout=600)).skipped == per_job
    limited = arrivals(fault_proxy, dst)
    window_rate = max_window_rate(limited, 10.0)
    calls = [after - was for after, was in zip(time_calls(ports), before, strict=True)]
    held = sum(int(e["waits"]) for w in workers for e in w.events("s3.rate_limited"))
    print(
        f"{layout}: {len(limited)} requests to a {SLOW_RATE:.0f}/s bucket from 3 shards and "
        f"2 workers, busiest 10 s window {window_rate:.1f}/s; limiter calls per master {calls}; "
        f"{held} logged waits",
        file=sys.stderr,
    )
    assert len(limited) >= SLOW
    assert limited[-1] - limited[0] > 10.0  # at least one full window
    assert window_rate <= SLOW_RATE * 1.05
    assert held > 0  # the demand was above the limit: requests were held back
    if cluster is not None:
        assert sum(1 for c in calls if c > 0) == 1, calls  # one schedule, on one master
        assert sum(calls) > 0
