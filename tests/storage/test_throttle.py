"""Backpressure: the per-bucket AIMD limit of the storage client."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.storage import StorageBackendError, StorageClient, StorageConfig
from storage_jobs.storage._throttle import BucketThrottle


async def test_limit_halves_once_per_round_and_creeps_back() -> None:
    """Eight throttled answers of one round halve the limit once; successes add 1/limit each."""
    throttle = BucketThrottle(ceiling=8)
    started = asyncio.Event()
    release = asyncio.Event()
    inside = 0

    async def request(throttled: bool) -> None:
        nonlocal inside
        async with throttle.slot("b") as mark:
            inside += 1
            if inside == 8:
                started.set()
            await release.wait()
            if throttled:
                mark()

    tasks = [asyncio.create_task(request(True)) for _ in range(8)]
    await started.wait()
    release.set()
    await asyncio.gather(*tasks)
    assert throttle.stats()["b"] == {"limit": 4.0, "throttled": 8}
    for _ in range(4):
        async with throttle.slot("b"):
            pass
    assert 4.9 < throttle.stats()["b"]["limit"] < 5.0  # 4 + 4 x ~1/4


async def test_limit_caps_concurrency_and_spares_other_buckets() -> None:
    """After throttling, at most `limit` requests run at once on that bucket only."""
    throttle = BucketThrottle(ceiling=16, floor=2)
    for _ in range(5):  # five rounds: 16 -> 8 -> 4 -> 2 -> 2 (floor)
        async with throttle.slot("hot") as mark:
            mark()
    assert throttle.stats()["hot"]["limit"] == 2
    peak = running = 0

    async def request(bucket: str) -> None:
        nonlocal peak, running
        async with throttle.slot(bucket):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(request("hot") for _ in range(20)))
    assert peak <= 6  # from 2, the limit grows by about 1/limit per success
    peak = 0
    await asyncio.gather(*(request("cold") for _ in range(20)))
    assert peak == 16


@pytest.mark.integration
async def test_slowdown_from_s3_lowers_the_bucket_limit(
    seaweedfs: SeaweedFS, fault_proxy: FaultProxy
) -> None:
    """503 SlowDown answers through the proxy halve the client's limit for that bucket."""
    seaweedfs.client().create_bucket(Bucket="throttled")
    config = StorageConfig(
        endpoint_url=fault_proxy.url,
        access_key_id=seaweedfs.access_key,
        secret_access_key=SecretStr(seaweedfs.secret_key),
        max_attempts=1,
        max_pool_connections=32,
    )
    fault_proxy.rules.slowdown_rate = 1.0
    async with StorageClient(config) as client:
        results = await asyncio.gather(
            *(client.fetch_file(bucket="throttled", key=f"k{i}") for i in range(64)),
            return_exceptions=True,
        )
        assert all(isinstance(r, StorageBackendError) and r.code == "SlowDown" for r in results)
        stats = client.throttle.stats()["throttled"]
        assert stats["throttled"] == 64
        assert stats["limit"] < 32
        fault_proxy.rules.slowdown_rate = 0.0
        await client.upload_file(bucket="throttled", key="ok", data=b"1")
        assert await client.fetch_file(bucket="throttled", key="ok") == b"1"


@pytest.mark.integration
async def test_max_attempts_counts_attempts_not_retries(
    seaweedfs: SeaweedFS, fault_proxy: FaultProxy
) -> None:
    """max_attempts=3 means three requests in all (botocore's max_attempts would mean four)."""
    seaweedfs.client().create_bucket(Bucket="attempts")
    config = StorageConfig(
        endpoint_url=fault_proxy.url,
        access_key_id=seaweedfs.access_key,
        secret_access_key=SecretStr(seaweedfs.secret_key),
        max_attempts=3,
    )
    fault_proxy.rules.slowdown_rate = 1.0
    async with StorageClient(config) as client:
        with pytest.raises(StorageBackendError) as info:
            await client.fetch_file(bucket="attempts", key="k")
    assert info.value.code == "SlowDown"
    assert fault_proxy.stats["requests"] == 3
