"""Backpressure: a per-bucket concurrency limit that halves on throttling and creeps back up.

S3 answers too much load on one prefix or bucket with ``503 SlowDown``; botocore retries the
request, but every other coroutine keeps sending at full rate. This AIMD limit (as TCP does:
additive increase, multiplicative decrease) makes the whole process slow that bucket down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from botocore.exceptions import ClientError

from ._bucket_table import BucketTable
from ._limiter import REQUEST_BUCKET

__all__ = ["THROTTLE_CODES", "BucketThrottle", "ThrottledClient"]

THROTTLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503", "429"}
)

# Calls that send no request, or must not wait behind a bucket's limit.
_PASS_THROUGH = frozenset({"generate_presigned_url", "generate_presigned_post", "close"})

_log = structlog.get_logger("storage_jobs.storage")


@dataclass
class _Bucket:
    limit: float
    in_flight: int = 0
    epoch: int = 0
    throttled: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class BucketThrottle:
    """Per-bucket AIMD concurrency limits.

    Args:
        ceiling: The most requests in flight per bucket (the connection pool's size).
        floor: The fewest the limit goes down to.
    """

    def __init__(self, ceiling: int, floor: int = 1) -> None:
        self.ceiling = ceiling
        self.floor = floor
        # A bucket with nothing in flight may be forgotten past a bound (it starts again at the
        # ceiling, as a bucket not seen for a while may).
        self._buckets: BucketTable[_Bucket] = BucketTable(lambda b: b.in_flight == 0)

    def stats(self) -> dict[str, dict[str, float]]:
        """Per bucket: the current limit and how often it was throttled."""
        return {
            name: {"limit": round(b.limit, 2), "throttled": b.throttled}
            for name, b in self._buckets.items()
        }

    @contextlib.asynccontextmanager
    async def slot(self, bucket: str) -> AsyncIterator[Callable[[], None]]:
        """Holds one request slot; call the yielded function if the request was throttled."""
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets.put(bucket, _Bucket(limit=float(self.ceiling)))
        async with state.changed:
            await state.changed.wait_for(lambda: state.in_flight < max(int(state.limit), 1))
            state.in_flight += 1
        epoch = state.epoch
        throttled = False

        def mark() -> None:
            nonlocal throttled
            throttled = True

        try:
            yield mark
        finally:
            async with state.changed:
                state.in_flight -= 1
                if throttled:
                    state.throttled += 1
                    # One decrease per round of requests: those sent before the last decrease
                    # answer with the old load and must not halve the limit again.
                    if epoch == state.epoch:
                        state.epoch += 1
                        state.limit = max(float(self.floor), state.limit / 2)
                        _log.warning("s3.backpressure", bucket=bucket, limit=int(state.limit))
                elif state.limit < self.ceiling:
                    state.limit = min(float(self.ceiling), state.limit + 1 / state.limit)
                state.changed.notify_all()


class ThrottledClient:
    """An aiobotocore S3 client whose bucket calls go through a BucketThrottle."""

    def __init__(self, inner: Any, throttle: BucketThrottle) -> None:
        self._inner = inner
        self.throttle = throttle

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in _PASS_THROUGH or name.startswith("_") or not callable(attr):
            return attr
        return self._wrap(name, attr)

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        # aiobotocore's operations are plain methods returning coroutines; only calls that name
        # a bucket are requests to throttle (not get_paginator, can_paginate, ...).
        def call(*args: Any, **kwargs: Any) -> Any:
            bucket = kwargs.get("Bucket")
            if not isinstance(bucket, str):
                return method(*args, **kwargs)
            return throttled_call(bucket, *args, **kwargs)

        async def throttled_call(bucket: str, *args: Any, **kwargs: Any) -> Any:
            async with self.throttle.slot(bucket) as throttled:
                # The rate limit's hook (``_limiter.limit_hook``) reads it before each attempt.
                token = REQUEST_BUCKET.set(bucket)
                try:
                    answer = await method(*args, **kwargs)
                except ClientError as exc:
                    error = exc.response.get("Error", {})
                    meta = exc.response.get("ResponseMetadata", {})
                    code = str(error.get("Code") or meta.get("HTTPStatusCode") or "")
                    if code in THROTTLE_CODES:
                        throttled()
                    raise
                finally:
                    REQUEST_BUCKET.reset(token)
                if name == "delete_objects" and any(
                    e.get("Code") in THROTTLE_CODES for e in answer.get("Errors", [])
                ):
                    throttled()
                return answer

        return call
