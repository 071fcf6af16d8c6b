"""Rate limits in the storage layer: the hook before every request, and the local limiter."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.devstack.faultproxy import max_window_rate
from storage_jobs.storage import (
    LocalRateLimiter,
    RateLimits,
    StorageClient,
    StorageConfig,
)
from storage_jobs.storage._config import MiB
from storage_jobs.storage._limiter import HOLD


class CountingLimiter:
    """Counts the requests it lets through, by bucket."""

    def __init__(self) -> None:
        self.acquired: Counter[str] = Counter()

    async def acquire(self, bucket: str) -> None:
        self.acquired[bucket] += 1


async def test_every_request_waits_for_the_limiter_under_its_own_bucket(
    moto_config: StorageConfig, tmp_path: Path
) -> None:
    """Puts, gets, heads, lists, copies (counted for the destination), parts, bulk deletes."""
    limiter = CountingLimiter()
    config = moto_config.model_copy(
        update={"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}
    )
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    async with StorageClient(config, limiter=limiter) as storage:
        await storage.s3.create_bucket(Bucket=a)
        await storage.s3.create_bucket(Bucket=b)
        assert limiter.acquired == {a: 1, b: 1}
        limiter.acquired.clear()
        await storage.upload_file(bucket=a, key="k", data=b"hi")  # PUT
        await storage.fetch_file(bucket=a, key="k")  # GET
        await storage.head_object(bucket=a, key="k")  # HEAD
        await storage.list_files(bucket=a)  # LIST
        await storage.copy_object(src_bucket=a, src_key="k", dst_bucket=b, dst_key="k", size=2)
        assert limiter.acquired == {a: 4, b: 1}
        big = tmp_path / "big"
        big.write_bytes(b"x" * (11 * MiB))
        limiter.acquired.clear()
        await storage.upload_path(bucket=b, key="big", path=big)
        assert limiter.acquired == {b: 1 + 3 + 1}  # create, three parts, complete
        limiter.acquired.clear()
        keys = [f"d/{i}" for i in range(2500)]
        await storage.delete_files(bucket=a, keys=keys)
        assert limiter.acquired == {a: 3}  # DeleteObjects: one request per 1,000 keys
        limiter.acquired.clear()
        await storage.list_buckets()  # names no bucket: no limit applies
        await storage.signed_download_url(bucket=a, key="k")  # sends nothing
        assert limiter.acquired == {}


async def test_retried_attempts_wait_for_the_limiter_too(moto_endpoint: str) -> None:
    """Botocore's retries of a throttled request are requests: each one takes a token."""
    proxy = FaultProxy(moto_endpoint, rules=FaultRules(seed=3, slowdown_rate=0.5))
    proxy.start_in_thread()
    limiter = CountingLimiter()
    config = StorageConfig(
        endpoint_url=proxy.url,
        access_key_id="testing",
        secret_access_key=SecretStr("testing-secret"),
        max_attempts=5,
    )
    bucket = f"r-{uuid.uuid4().hex[:8]}"
    try:
        async with StorageClient(config, limiter=limiter) as storage:
            proxy.rules = FaultRules()
            await storage.s3.create_bucket(Bucket=bucket)
            proxy.rules = FaultRules(seed=3, slowdown_rate=0.5)
            limiter.acquired.clear()
            for i in range(10):
                await storage.upload_file(bucket=bucket, key=f"k{i}", data=b"x")
    finally:
        proxy.stop_thread()
    assert proxy.stats["slowdown"] > 0
    assert limiter.acquired[bucket] == proxy.stats["requests"] == 10 + proxy.stats["slowdown"]


def test_batches_are_bounded_by_the_rate() -> None:
    """At most rate / 20 tokens a reservation (50 ms of the rate), at least one."""
    assert [RateLimits.batch_for(r) for r in (0.5, 19, 20, 100, 1000)] == [1, 1, 1, 5, 50]
    limits = RateLimits({"*": 10.0, "hot": 2.0})
    assert (limits.rate_for("hot"), limits.rate_for("other")) == (2.0, 10.0)
    assert RateLimits({"only": 1.0}).rate_for("other") is None
    assert not RateLimits()


async def test_local_limiter_holds_requests_to_the_rate_and_reports_waits() -> None:
    """40 eager requests at 50/s: no window holds more than the schedule's; waits are reported."""
    held: list[tuple[str, float]] = []
    limiter = LocalRateLimiter(
        RateLimits({"b": 50.0}), on_wait=lambda bucket, s: held.append((bucket, s))
    )
    sent: list[float] = []

    async def send() -> None:
        for _ in range(4):
            await limiter.acquire("b")
            sent.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(send() for _ in range(10)))
    await limiter.acquire("free")  # no rate: passes at once, reports nothing
    assert time.monotonic() - started >= (40 - 2 * 2) / 50  # the schedule, at least
    assert max_window_rate(sent, 0.5) * 0.5 <= 50 * (0.5 + HOLD) + 2
    assert held and {bucket for bucket, _ in held} == {"b"}
    assert all(s >= 0 for _, s in held)


def test_max_window_rate_slides_over_the_arrivals() -> None:
    """The busiest window, whatever its alignment."""
    times = [0.0, 0.1, 0.95, 1.0, 1.05, 1.9, 3.0]
    assert max_window_rate(times, 1.0) == 4.0  # 0.95 .. 1.9
    assert max_window_rate([], 10.0) == 0.0
