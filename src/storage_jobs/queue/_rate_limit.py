"""Cluster-wide S3 rate limits: one GCRA per bucket in Redis, shared by every worker of a queue.

Each script call (``lua/rate_reserve.lua``) reserves a small batch of tokens (at most
``rate / 20``, see ``storage._limiter``) on the bucket's schedule and answers how long to wait
before spending them; the clock is Redis's ``TIME``, so the workers' clocks do not matter.
Waiting costs no further calls: a worker sleeps until its tokens are due.

While Redis cannot be reached the limiter does not stall: it logs ``s3.rate_limit_fallback``
and spends from an in-process schedule at its share of the rate (the rate divided by the live
workers it last counted, all of it before it counted any), trying Redis again every few
seconds, and logs ``s3.rate_limit_recovered`` when Redis answers again.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError

from ..storage import BatchedRateLimiter, LocalRateLimiter, RateLimits
from ._keys import QueueKeys
from ._scripts import Scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..storage._limiter import OnWait

__all__ = ["RedisRateLimiter"]

_log = structlog.get_logger("storage_jobs.queue")


class RedisRateLimiter(BatchedRateLimiter):
    """Per-bucket request rates shared by every worker of a queue.

    Args:
        redis: The worker's connection.
        queue_name: The queue whose workers share the limits.
        limits: The rates.
        on_wait: Told of every request the limit held (bucket, seconds).
        peer_max_age: Heartbeats younger than this count a worker as live (for the fallback).
        timeout: Seconds a script call may take before the fallback takes over.
        retry_after: Seconds between attempts to reach Redis again while it is away.
        scripts: The queue's scripts on ``redis``; None registers them here.
    """

    PEERS_EVERY = 10.0
    """Seconds between two counts of the live workers (in the same script call)."""

    def __init__(
        self,
        redis: Redis,
        queue_name: str,
        limits: RateLimits,
        *,
        on_wait: OnWait | None = None,
        peer_max_age: float = 15.0,
        timeout: float = 2.0,
        retry_after: float = 5.0,
        scripts: Scripts | None = None,
    ) -> None:
        super().__init__(limits, on_wait=on_wait)
        self._redis = redis
        self._keys = QueueKeys(queue_name)
        self._scripts = scripts or Scripts(redis)
        self.peer_max_age = peer_max_age
        self.timeout = timeout
        self.retry_after = retry_after
        self.peers = 1
        """Live workers last counted (1 until counted): the fallback's divisor."""
        self._peers_at = -math.inf
        self._down_until = -math.inf
        self._down = False
        self._local = LocalRateLimiter(limits)

    async def reserve(self, bucket: str, rate: float, count: int) -> float:
        """Reserves ``count`` tokens on the shared schedule (or the local share's)."""
        now = time.monotonic()
        if now < self._down_until:
            return self._local.reserve_now(bucket, rate / self.peers, count)
        count_peers = now - self._peers_at >= self.PEERS_EVERY
        since = int((time.time() - self.peer_max_age) * 1000) if count_peers else ""
        args: list[Any] = [1e6 / rate, count, since]
        try:
            async with asyncio.timeout(self.timeout):
                wait_us, peers = await self._scripts.rate_reserve(
                    keys=[self._keys.rate(bucket), self._keys.workers], args=args
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + self.retry_after
            if not self._down:
                self._down = True
                _log.warning(
                    "s3.rate_limit_fallback",
                    bucket=bucket,
                    share=round(rate / self.peers, 3),
                    peers=self.peers,
                    error=type(exc).__name__,
                    retry_s=self.retry_after,
                )
            return self._local.reserve_now(bucket, rate / self.peers, count)
        if self._down:
            self._down = False
            _log.info("s3.rate_limit_recovered", bucket=bucket)
        if int(peers) >= 0:
            self.peers, self._peers_at = max(1, int(peers)), now
        return max(0, int(wait_us)) / 1e6
