"""Per-bucket state and metric labels stay bounded however many bucket names a worker meets.

The rate limiter's tokens and schedule, the backpressure limits and the rate-limit metrics'
``bucket`` labels each kept a value per bucket name for ever; now the most recently used are
kept (up to a bound) and the rest dropped, or for metrics folded into ``bucket="other"``.
"""

from __future__ import annotations

import asyncio

from storage_jobs.metrics import BUCKET_LABELS
from storage_jobs.metrics._worker_metrics import WorkerMetrics
from storage_jobs.storage import MAX_BUCKETS, BucketTable, LocalRateLimiter, RateLimits
from storage_jobs.storage._throttle import BucketThrottle

MANY = 3 * MAX_BUCKETS


def test_the_table_keeps_the_most_recently_used_and_never_a_busy_one() -> None:
    busy = {"b0"}
    dropped: list[str] = []
    table: BucketTable[int] = BucketTable(
        lambda n: f"b{n}" not in busy, limit=3, on_drop=lambda name, _: dropped.append(name)
    )
    for n in range(3):
        table.put(f"b{n}", n)
    assert table.get("b1") == 1  # now the most recently used
    table.put("b3", 3)
    assert [name for name, _ in table.items()] == ["b0", "b1", "b3"] and dropped == ["b2"]
    busy.clear()
    table.put("b4", 4)
    assert [name for name, _ in table.items()] == ["b1", "b3", "b4"]
    assert dropped == ["b2", "b0"]


async def test_the_rate_limiter_keeps_state_for_a_bounded_number_of_buckets() -> None:
    limiter = LocalRateLimiter(RateLimits({"*": 1000.0}))
    for n in range(MANY):
        await limiter.acquire(f"bucket-{n}")
    assert len(limiter._tokens) <= MAX_BUCKETS and len(limiter._tat) <= MAX_BUCKETS
    assert f"bucket-{MANY - 1}" in limiter._tokens  # the most recent ones are kept
    assert "bucket-0" not in limiter._tokens


async def test_backpressure_keeps_a_bounded_number_of_buckets_but_every_busy_one() -> None:
    throttle = BucketThrottle(ceiling=4)
    async with throttle.slot("held-all-along"):
        for n in range(MANY):
            async with throttle.slot(f"bucket-{n}"):
                await asyncio.sleep(0)
        stats = throttle.stats()
        assert len(stats) <= MAX_BUCKETS + 1 and "held-all-along" in stats


def test_rate_limit_metrics_label_the_recent_buckets_and_fold_the_rest_into_other() -> None:
    metrics = WorkerMetrics()
    total = BUCKET_LABELS + 150
    for n in range(total):
        metrics.s3_rate_limited(f"bucket-{n}", 0.5)
    metrics.s3_rate_limited("bucket-0", 0.5)  # pushed out long ago: counted again, labelled
    (family,) = [m for m in metrics.registry.collect() if m.name == "storage_jobs_s3_rate_limited"]
    series = {s.labels["bucket"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert len(series) == BUCKET_LABELS + 1  # the recent ones and "other"
    assert sum(series.values()) == total + 1  # nothing lost
    assert series["bucket-0"] == 1 and series[f"bucket-{total - 1}"] == 1
    assert series["other"] == total + 1 - BUCKET_LABELS
    seconds = metrics.registry.get_sample_value(
        "storage_jobs_s3_rate_limited_seconds_total", {"bucket": "other"}
    )
    assert seconds == 0.5 * series["other"]
