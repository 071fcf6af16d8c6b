"""queueinfo on the local Redis: counts, kinds, heartbeats, without any worker running."""

from __future__ import annotations

import json
import time

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import QueueKeys, live_workers, queue_depth, queue_info

pytestmark = pytest.mark.integration


def _job(function: str) -> bytes:
    return json.dumps({"t": 0, "f": function, "a": ["{}"], "k": {}, "et": 0}).encode()


async def test_empty_queue(redis: Redis, queue_name: str) -> None:
    """A queue nobody used has zero of everything and no workers."""
    info = await queue_info(redis, queue_name)
    assert (info.counts.depth, info.counts.in_progress, info.counts.deferred) == (0, 0, 0)
    assert info.counts.oldest_age == 0 and info.kinds == {} and info.workers == ()
    assert info.as_dict()["total"] == 0


async def test_counts_and_the_in_progress_limit(redis: Redis, queue_name: str) -> None:
    """Running jobs are not depth; beyond the limit only the oldest are checked, and it says so."""
    keys = QueueKeys(queue_name)
    now_ms = int(time.time() * 1000)
    await redis.zadd(queue_name, {f"j{i}": now_ms - 10_000 + i for i in range(5)})
    await redis.zadd(queue_name, {"later": now_ms + 60_000})
    for job_id in ("j0", "j4"):
        await redis.set(keys.in_progress(job_id), b"1", px=60_000)
    for job_id in ("j0", "j1", "j2", "j3", "j4", "later"):
        await redis.set(keys.job(job_id), _job("storage_jobs.copy"), px=60_000)

    depth = await queue_depth(redis, queue_name)
    assert (depth.depth, depth.in_progress, depth.deferred, depth.total) == (3, 2, 1, 6)
    assert depth.in_progress_exact and 9.5 < depth.oldest_age < 30
    limited = await queue_depth(redis, queue_name, in_progress_limit=2)
    assert (limited.in_progress, limited.in_progress_exact) == (1, False)
    info = await queue_info(redis, queue_name, kind_sample=3)
    assert info.kinds == {"storage_jobs.copy": 3} and info.kinds_sampled
    assert info.kinds_sample_size == 3


async def test_a_claimed_job_counts_as_running_not_deferred(redis: Redis, queue_name: str) -> None:
    """The claim moves a running job's score to its lease's deadline: it is still in_progress."""
    keys = QueueKeys(queue_name)
    now_ms = int(time.time() * 1000)
    await redis.zadd(queue_name, {"running": now_ms + 10_000, "later": now_ms + 60_000})
    await redis.zadd(queue_name, {"ready": now_ms - 1_000})
    await redis.set(keys.in_progress("running"), b"w1", px=10_000)
    depth = await queue_depth(redis, queue_name)
    assert (depth.depth, depth.in_progress, depth.deferred, depth.total) == (1, 1, 1, 3)


async def test_live_workers_skip_stale_heartbeats(redis: Redis, queue_name: str) -> None:
    """Fresh heartbeats are listed (even without or with a broken description); stale are not."""
    keys = QueueKeys(queue_name)
    now = time.time()
    await redis.zadd(
        keys.workers,
        {"fresh": int(now * 1000), "bare": int(now * 1000), "stale": int((now - 60) * 1000)},
    )
    info = {"host": "h1", "pid": 42, "jobs_ongoing": 1, "max_jobs": 4, "started_at": 1}
    await redis.set(keys.worker("fresh"), json.dumps(info), px=60_000)
    await redis.set(keys.worker("stale"), json.dumps(info), px=60_000)
    await redis.set(keys.worker("bare"), b"not json", px=60_000)

    workers = {w.worker_id: w for w in await live_workers(redis, queue_name, max_age=15)}
    assert set(workers) == {"fresh", "bare"}
    assert (workers["fresh"].host, workers["fresh"].pid, workers["fresh"].max_jobs) == ("h1", 42, 4)
    assert workers["fresh"].started_at == 1.0
    assert workers["bare"].host is None and workers["bare"].last_beat_age < 5
