"""The shared rate limit's script and limiter on a private redis-server (its Lua and TIME)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from storage_jobs.devstack import RedisServer
from storage_jobs.devstack.faultproxy import max_window_rate
from storage_jobs.queue import Queue, QueueKeys, RedisRateLimiter
from storage_jobs.storage import RateLimits
from storage_jobs.storage._limiter import HOLD

pytestmark = pytest.mark.integration


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (commands counted, and it may be stopped)."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
async def conns(private_redis: RedisServer) -> AsyncIterator[list[Redis]]:
    """Two connections, as two workers would have."""
    made = [Redis(port=private_redis.port), Redis(port=private_redis.port)]
    yield made
    for conn in made:
        await conn.aclose()


def script_calls(server: RedisServer) -> int:
    """Calls of the limiter's script so far (only it runs TIME)."""
    stats: dict[str, Any] = redis.Redis(port=server.port).info("commandstats")  # type: ignore[assignment]
    return int(stats.get("cmdstat_time", {}).get("calls", 0))


async def test_reservations_follow_the_schedule_in_redis_time(conns: list[Redis]) -> None:
    """At 2 requests/s, five reservations of one token wait 0, 0.5, 1, 1.5 and 2 s."""
    limiter = Queue(conns[0], "q-sched").rate_limiter(RateLimits({"b": 2.0}))
    waits = [await limiter.reserve("b", 2.0, 1) for _ in range(5)]
    for n, wait in enumerate(waits):
        assert n * 0.5 - 0.25 < wait <= n * 0.5, waits
    tat = int(await conns[0].get(QueueKeys("q-sched").rate("b")))
    seconds, micros = await conns[0].time()
    assert 2.0 < (tat - (seconds * 1_000_000 + micros)) / 1e6 <= 2.5
    assert 0 < await conns[0].pttl(QueueKeys("q-sched").rate("b")) <= 3500  # idle keys go


async def test_two_limiters_sharing_a_key_never_exceed_the_rate(
    conns: list[Redis], private_redis: RedisServer
) -> None:
    """Two workers' limiters, 20 eager senders each, at 40/s: no window above the schedule's."""
    rate, limits = 40.0, RateLimits({"shared": 40.0})
    limiters = [RedisRateLimiter(c, "q-shared", limits) for c in conns]
    sent: list[float] = []
    stop = time.monotonic() + 3.0

    async def sender(limiter: RedisRateLimiter) -> None:
        while time.monotonic() < stop:
            await limiter.acquire("shared")
            sent.append(time.monotonic())

    before = script_calls(private_redis)
    await asyncio.gather(*(sender(lim) for lim in limiters for _ in range(20)))
    calls = script_calls(private_redis) - before
    batch = RateLimits.batch_for(rate)
    assert batch == 2
    assert len(sent) > rate  # they did send, for about 3 s
    # Reservations never overlap and are spent within HOLD of their start: any 2 s window holds
    # at most rate x (2 s + HOLD) plus a batch (and the replies' latencies).
    busiest = max_window_rate(sent, 2.0) * 2
    assert busiest <= rate * (2 + HOLD) + 2 * batch, busiest
    # Across the run: the schedule's worth plus one batch per limiter, no more.
    assert len(sent) <= rate * (sent[-1] - sent[0]) + 2 * batch * len(limiters)
    assert calls <= 0.6 * len(sent) + 4  # batched: one call per 2 requests at this rate


async def test_an_idle_worker_takes_one_token_and_unused_tokens_expire(
    conns: list[Redis], private_redis: RedisServer
) -> None:
    """A lone request reserves one token; a batch left unused is not spent later in a burst."""
    limiter = RedisRateLimiter(conns[0], "q-idle", RateLimits({"b": 100.0}))
    await limiter.acquire("b")
    state = limiter._tokens["b"]
    assert (state.granted, state.left) == (1, 0)
    await asyncio.gather(*(limiter.acquire("b") for _ in range(7)))
    assert state.granted == RateLimits.batch_for(100.0) == 5  # 7 waiting: a full batch
    while state.left == 0:  # a batch ran out: the next takes more than its one request needs
        await limiter.acquire("b")
    await asyncio.sleep(HOLD + 0.1)  # what is left of the batch has expired
    before = script_calls(private_redis)
    await limiter.acquire("b")
    assert script_calls(private_redis) == before + 1  # a new reservation, no leftover spent


async def test_unlimited_buckets_cost_no_redis_call(
    conns: list[Redis], private_redis: RedisServer
) -> None:
    """Only buckets with a rate (or the "*" default) reach Redis."""
    limiter = RedisRateLimiter(conns[0], "q-free", RateLimits({"slow": 5.0}))
    before = script_calls(private_redis)
    for _ in range(50):
        await limiter.acquire("fast")
    assert script_calls(private_redis) == before
    await limiter.acquire("slow")
    assert script_calls(private_redis) == before + 1
    with_default = RedisRateLimiter(conns[0], "q-free", RateLimits({"*": 5.0}))
    await with_default.acquire("anything")
    assert script_calls(private_redis) == before + 2


async def test_redis_down_falls_back_to_the_local_share(
    conns: list[Redis], private_redis: RedisServer
) -> None:
    """Redis gone: no stall; the limiter spends its share (rate / live workers) locally."""
    keys = QueueKeys("q-down")
    now_ms = int(time.time() * 1000)
    await conns[0].zadd(keys.workers, {f"w{i}": now_ms for i in range(4)})
    limiter = RedisRateLimiter(conns[0], "q-down", RateLimits({"b": 40.0}), timeout=1.0)
    await limiter.acquire("b")
    assert limiter.peers == 4
    private_redis.stop()
    sent: list[float] = []
    started = time.monotonic()

    async def sender() -> None:
        for _ in range(6):
            await limiter.acquire("b")
            sent.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(4))), timeout=20)
    # 24 requests at the share of 10/s: at least 2 s, never more than 10 in any second.
    assert time.monotonic() - started >= (24 - 2) / 10
    assert max_window_rate(sent, 1.0) <= 10 + 2
