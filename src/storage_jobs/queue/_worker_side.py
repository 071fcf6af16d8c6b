"""``WorkerSide``: a ``Queue``'s calls for a worker: claims, leases, finishes, its state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ._heartbeat import remove_heartbeat, write_heartbeat
from ._job_state import RedisJobState
from ._rate_limit import RedisRateLimiter
from ._routing import ShardRouting
from ._sharded import ShardedDeadLetters
from ._spread import claim_over_shards
from ._wake import wait_for_any_wake

if TYPE_CHECKING:
    from ..storage import RateLimits
    from ._claim import Claim
    from ._dead_letters import DeadLetterStore
    from ._finish import Finish
    from ._heartbeat import Heartbeat
    from ._keys import Priority
    from ._progress import RedisProgressStore

__all__ = ["WorkerSide"]


class WorkerSide(ShardRouting):
    """A worker's side of the queue: claim, renew, finish and retry jobs, their state, liveness."""

    async def claim(
        self, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due jobs for the worker, shards in turn (``LeaseHolder.claim``)."""
        if self.single is not None:
            return await self.single.claim(want, now_ms, scan=scan, bulk=bulk)
        start = self._turn
        self._turn = (start + 1) % len(self.shards)
        return await claim_over_shards(self._as_queue, start, want, now_ms, scan=scan, bulk=bulk)

    async def renew(self, running: Iterable[str], now_ms: int) -> list[str]:
        """Renews the worker's leases of running jobs; returns those newly found lost."""
        # Every shard is asked, an empty list too: that is how it forgets lost leases.
        groups = self._by_shard(running)
        lost = await asyncio.gather(
            *(shard.renew(groups.get(i, []), now_ms) for i, shard in enumerate(self.shards))
        )
        return [job_id for part in lost for job_id in part]

    def forget(self, job_id: str) -> bool:
        """Forgets a finished job's lease; True if it had been lost."""
        return self.shard(job_id).leases.forget(job_id)

    async def finish(self, items: Sequence[Finish], *, trim: bool = False) -> int:
        """Finishes a batch of jobs, one script call per shard; returns how many were removed."""
        groups: dict[int, list[Finish]] = {}
        for item in items:
            groups.setdefault(self.layout.index(item.job_id), []).append(item)
        removed = await asyncio.gather(
            *(self.shards[s].finish(batch, trim=trim) for s, batch in groups.items())
        )
        return sum(removed)

    async def retry(
        self, job_id: str, *, score: int | None, delay_ms: int, lane: Priority = "normal"
    ) -> None:
        """Leaves a claimed job queued again, due ``delay_ms`` after its claim ``score``."""
        await self.shard(job_id).retry(job_id, score=score, delay_ms=delay_ms, lane=lane)

    async def set_attempts(self, job_id: str, tries: int) -> None:
        """Sets arq's attempt counter of a job."""
        await self.shard(job_id).set_attempts(job_id, tries)

    async def finish_cancelled(self, job_id: str) -> str | None:
        """Finishes a claimed job found cancelled; returns its queue function, if readable."""
        return await self.shard(job_id).finish_cancelled(job_id)

    @cached_property
    def dead_letters(self) -> DeadLetterStore:
        """The queue's dead letters, every shard's."""
        if self.single is not None:
            return self.single.dead_letters
        return ShardedDeadLetters(self._as_queue)

    def progress(self, job_id: str) -> RedisProgressStore:
        """A prefix job's progress (indexed on its shard when it starts)."""
        job_id = self.job_id(job_id)
        return self.shard(job_id).progress(job_id)

    def job_state(self) -> RedisJobState:
        """Running jobs' crash-safe state (each prefix job's progress indexed on its shard)."""
        return RedisJobState(
            self.redis,
            queue=self.name if self.single is not None else None,
            queue_of=None if self.single is not None else self._shard_name,
            result_ttl=self.result_ttl,
            scripts=self.scripts,
        )

    def rate_limiter(self, limits: RateLimits, **options: Any) -> RedisRateLimiter:
        """The queue's shared S3 rate limits: one schedule per bucket, shared by the shards."""
        return RedisRateLimiter(self.redis, self.home, limits, scripts=self.scripts, **options)

    # -- heartbeats -------------------------------------------------------------------------------

    async def heartbeat(self, beat: Heartbeat, *, ttl: float, also: str | None = None) -> None:
        """Stores a worker's heartbeat for ``ttl`` seconds, under the queue's ``home`` name."""
        await write_heartbeat(self.redis, self.home, beat, ttl=ttl, also=also)

    async def remove_heartbeat(self, worker_id: str) -> None:
        """Forgets a worker at once (it stopped cleanly)."""
        await remove_heartbeat(self.redis, self.home, worker_id)

    # -- waking -----------------------------------------------------------------------------------

    async def push_wake(self) -> None:
        """Pushes a wake token (idle workers block on every shard's list): one claims at once."""
        await self.shards[0].push_wake()

    async def wait_for_wake(self, timeout_s: float) -> bool:
        """Blocks until a wake token arrives on any shard (True) or ``timeout_s`` passes."""
        if self.single is not None:
            return await self.single.wait_for_wake(timeout_s)
        return await wait_for_any_wake(self.redis, [s.keys.wake for s in self.shards], timeout_s)
