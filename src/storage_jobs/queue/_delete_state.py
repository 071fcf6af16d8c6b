"""The Redis side of a bulk delete's crash-safe progress (``jobs.DeleteState``).

Keys (from ``state_key(job_id, "<scope>:<part>")``), written after each DeleteObjects answer:

- ``done``    bitmap: first-round batches already answered (never sent again)
- ``retry``   set: keys that failed with a retryable code, still to retry
- ``last``    hash: key -> last retryable error (JSON), for the final report
- ``failed``  hash: key -> final error (JSON): permanent, or retries exhausted
- ``round``   the retry round reached
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from ._cluster import atomic
from ._keys import state_key

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["KEEP_AFTER_DONE", "RedisDeleteState"]

KEEP_AFTER_DONE = 3600
"""Seconds a finished delete's state is kept: a crash between the last batch and storing the
result re-runs the job, which must then find everything done instead of deleting again. Never
longer than the result lives (``RedisJobState``): once the result is stored the state is not
read again, and once it expired the same job id may be enqueued anew and must delete afresh."""


class RedisDeleteState:
    """The crash-safe progress of one delete, in Redis."""

    def __init__(
        self,
        redis: Redis,
        job_id: str,
        scope: str,
        ttl: int,
        keep_after_done: int = KEEP_AFTER_DONE,
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.keep_after_done = keep_after_done

        def name(part: str) -> str:
            return state_key(job_id, f"{scope}:{part}")

        self.done_key, self.retry_key = name("done"), name("retry")
        self.last_key, self.failed_key = name("last"), name("failed")
        self.round_key = name("round")
        self.keys = [self.done_key, self.retry_key, self.last_key, self.failed_key, self.round_key]

    async def done_batches(self, count: int) -> set[int]:
        """First-round batches already answered."""
        raw = await self.redis.get(self.done_key) or b""
        return {i for i in range(count) if i // 8 < len(raw) and raw[i // 8] & (0x80 >> (i % 8))}

    async def round(self) -> int:
        """The retry round reached."""
        return int(await self.redis.get(self.round_key) or 0)

    async def set_round(self, round_: int) -> None:
        """Records the retry round about to start."""
        await self.redis.set(self.round_key, round_, ex=self.ttl)

    async def pending(self) -> list[str]:
        """Keys still to retry, sorted."""
        # redis-py types its asyncio replies as "value or awaitable"; they are awaitables here.
        members = await cast(Awaitable[set[bytes]], self.redis.smembers(self.retry_key))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def record(
        self,
        *,
        retry: Mapping[str, Mapping[str, str]],
        final: Mapping[str, Mapping[str, str]],
        round_: int,
        batch_index: int | None = None,
        retried: Sequence[str] = (),
    ) -> None:
        """Stores one DeleteObjects answer atomically."""
        async with atomic(self.redis) as tx:
            if batch_index is not None:
                tx.setbit(self.done_key, batch_index, 1)
            if retried:
                # Deleted or permanently failed keys leave the retry set; still-failing ones stay.
                gone = [k for k in retried if k not in retry]
                if gone:
                    tx.srem(self.retry_key, *gone)
                    tx.hdel(self.last_key, *gone)
            if retry:
                tx.sadd(self.retry_key, *retry)
                tx.hset(self.last_key, mapping={k: json.dumps(e) for k, e in retry.items()})
            if final:
                tx.hset(self.failed_key, mapping={k: json.dumps(e) for k, e in final.items()})
            if round_ == 1:
                tx.setnx(self.round_key, 1)
            for key in self.keys:
                tx.expire(key, self.ttl)
            await tx.execute()

    async def give_up(self, pending: Sequence[str]) -> None:
        """Moves keys whose retries are exhausted to the final failures."""
        last = await cast(
            Awaitable[list[bytes | None]], self.redis.hmget(self.last_key, list(pending))
        )
        mapping: dict[str, str | bytes] = {
            key: raw or json.dumps({"key": key, "code": "Unknown", "message": ""})
            for key, raw in zip(pending, last, strict=True)
        }
        async with atomic(self.redis) as tx:
            tx.hset(self.failed_key, mapping=mapping)
            tx.srem(self.retry_key, *pending)
            await tx.execute()

    async def failures(self) -> list[str]:
        """The final failures as JSON documents."""
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.failed_key))
        return [v.decode() for v in raw.values()]

    async def expire_soon(self) -> None:
        """Keeps the state ``keep_after_done`` seconds more, then lets it go."""
        async with self.redis.pipeline(transaction=False) as tx:
            for key in self.keys:
                tx.expire(key, self.keep_after_done)
            await tx.execute()
