"""Request rate limits: a hook awaited before every S3 request, and the batching both sides use.

The storage client awaits ``RequestLimiter.acquire(bucket)`` right before each HTTP request it
sends for a bucket (botocore's retries included: the hook runs on ``before-send``), after the
bucket's backpressure slot (``_throttle``) is taken. ``BatchedRateLimiter`` hands out tokens
reserved a few at a time from a ``reserve`` of its subclass: ``LocalRateLimiter`` reserves
from an in-process GCRA, the queue layer's limiter from one shared in Redis.

Reservations never overlap on the schedule, and reserved tokens are spent within ``HOLD``
seconds (or their own slice, ``n / rate``, when longer) of when they become usable: what a worker
leaves unused is dropped, never saved up into a burst. So over any window of ``W`` seconds at
most ``rate x (W + HOLD)`` tokens plus one batch are spent (at 100/s over 10 s: 102.5/s); a
saturated schedule spends each batch at once, so what the window sees is ``rate x W`` plus
about two batches.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from ._bucket_table import BucketTable

__all__ = [
    "REQUEST_BUCKET",
    "BatchedRateLimiter",
    "LocalRateLimiter",
    "RateLimits",
    "RequestLimiter",
    "limit_hook",
]

REQUEST_BUCKET: ContextVar[str | None] = ContextVar("storage_jobs_request_bucket", default=None)
"""The bucket of the S3 call being made (set by the throttled client for the call's duration)."""

SLICES_PER_SECOND = 20
"""A batch holds at most ``rate / 20`` tokens, so it lasts at most 1/20 s (50 ms) of the rate."""

HOLD = 0.2
"""Seconds a batch's tokens stay spendable at least: a worker sending below its share uses
them over several of its requests (fewer calls) without ever holding more than one batch."""

LOG_EVERY = 10.0
"""Seconds between two ``s3.rate_limited`` log lines of one bucket."""

_log = structlog.get_logger("storage_jobs.storage")

OnWait = Callable[[str, float], None]
"""Called with the bucket and the seconds a request was held by the limit."""


class RequestLimiter(Protocol):
    """What the storage client awaits before each S3 request."""

    async def acquire(self, bucket: str) -> None:
        """Returns once one request to ``bucket`` may be sent."""


@dataclass(frozen=True)
class RateLimits:
    """Requests per second by bucket; ``"*"`` is the default for buckets not named.

    Attributes:
        rates: Bucket -> requests per second (each > 0).
    """

    rates: Mapping[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rates)

    def rate_for(self, bucket: str) -> float | None:
        """The bucket's rate, the default's, or None for no limit."""
        rate = self.rates.get(bucket)
        return self.rates.get("*") if rate is None else rate

    @staticmethod
    def batch_for(rate: float) -> int:
        """The most tokens one reservation takes at this rate (at least 1)."""
        return max(1, math.floor(rate / SLICES_PER_SECOND))


@dataclass
class _Tokens:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    left: int = 0
    expires: float = 0.0
    granted: int = 0
    waiting: int = 0
    sleeps: int = 0
    logged_at: float = -math.inf
    held: int = 0
    held_s: float = 0.0


class BatchedRateLimiter(ABC):
    """Tokens per bucket, reserved in small batches and spent within their slice.

    Args:
        limits: The rates.
        on_wait: Told of every request the limit held (bucket, seconds held); for metrics.
    """

    def __init__(self, limits: RateLimits, *, on_wait: OnWait | None = None) -> None:
        self.limits = limits
        self.on_wait = on_wait
        # Idle buckets' state is dropped past a bound (its tokens would have expired anyway).
        self._tokens: BucketTable[_Tokens] = BucketTable(_idle)

    @abstractmethod
    async def reserve(self, bucket: str, rate: float, count: int) -> float:
        """Reserves ``count`` tokens; returns the seconds until they may be spent."""

    async def acquire(self, bucket: str) -> None:
        """Returns once one request to ``bucket`` may be sent (at once for unlimited buckets)."""
        rate = self.limits.rate_for(bucket)
        if rate is None:
            return
        state = self._tokens.get(bucket)
        if state is None:
            state = self._tokens.put(bucket, _Tokens())
        started, sleeps = time.monotonic(), state.sleeps
        state.waiting += 1
        try:
            while not _take(state):
                async with state.lock:
                    if _take(state):
                        break
                    await self._refill(state, bucket, rate)
        finally:
            state.waiting -= 1
        if state.sleeps != sleeps:  # a reservation had to wait while this request did
            self._held(state, bucket, rate, time.monotonic() - started)

    async def _refill(self, state: _Tokens, bucket: str, rate: float) -> None:
        used = state.granted - state.left
        # As many as are waiting; when the last batch ran out, twice as many as it had.
        guess = 2 * used if used >= state.granted > 0 else used
        count = min(self.limits.batch_for(rate), max(1, state.waiting, guess))
        state.left = 0
        wait = await self.reserve(bucket, rate, count)
        if wait > 0:
            await asyncio.sleep(wait)
            state.sleeps += 1
        state.granted, state.left = count, count
        state.expires = time.monotonic() + max(count / rate, HOLD)

    def _held(self, state: _Tokens, bucket: str, rate: float, seconds: float) -> None:
        if self.on_wait is not None:
            self.on_wait(bucket, seconds)
        state.held += 1
        state.held_s += seconds
        now = time.monotonic()
        if now - state.logged_at >= LOG_EVERY:
            _log.info(
                "s3.rate_limited",
                bucket=bucket,
                rate=rate,
                waits=state.held,
                waited_s=round(state.held_s, 3),
            )
            state.logged_at, state.held, state.held_s = now, 0, 0.0


def _idle(state: _Tokens) -> bool:
    return state.waiting == 0 and not state.lock.locked()


def _take(state: _Tokens) -> bool:
    if state.left > 0 and time.monotonic() < state.expires:
        state.left -= 1
        return True
    return False


class LocalRateLimiter(BatchedRateLimiter):
    """Rate limits of this process alone (a GCRA on the monotonic clock).

    Also what the Redis limiter falls back to, at its share of the rate, while Redis is away.
    """

    def __init__(self, limits: RateLimits, *, on_wait: OnWait | None = None) -> None:
        super().__init__(limits, on_wait=on_wait)
        # A schedule in the past says nothing (a request may go now): only those are dropped.
        self._tat: BucketTable[float] = BucketTable(lambda tat: tat <= time.monotonic())

    async def reserve(self, bucket: str, rate: float, count: int) -> float:
        """Reserves ``count`` tokens from this process's schedule."""
        return self.reserve_now(bucket, rate, count)

    def reserve_now(self, bucket: str, rate: float, count: int) -> float:
        """``reserve`` without awaiting: the seconds until ``count`` tokens may be spent."""
        now = time.monotonic()
        tat = self._tat.get(bucket)
        start = max(now if tat is None else tat, now)
        self._tat.put(bucket, start + count / rate)
        return start - now


def limit_hook(limiter: RequestLimiter) -> Callable[..., Any]:
    """A botocore ``before-send`` handler that waits for the limiter (once per attempt)."""

    async def before_send(**_: Any) -> None:
        bucket = REQUEST_BUCKET.get()
        if bucket is not None:
            await limiter.acquire(bucket)
        # None: botocore sends the request itself.

    return before_send
