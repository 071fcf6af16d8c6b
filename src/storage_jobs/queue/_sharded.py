"""What a queue of many shards answers as one: control, dead letters, claims and depths merged.

Each piece here takes the logical ``Queue`` and asks its shards: a job's call goes to the job's
shard, a queue-wide one to every shard (concurrently), and the answers are merged the way a
single queue's would read.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from redis.asyncio import RedisCluster

from ._claim import Claim
from ._control import Control
from ._dead_letters import DeadLetterStore
from ._info import QueueDepth, QueueInfo, ShardInfo, live_workers, queue_info
from ._keys import LANES
from ._shards import shard_nodes, slot_ranges

if TYPE_CHECKING:
    from ..jobs import JobLimits
    from ._dead_letters import DeadLetter
    from ._queue import Queue

__all__ = [
    "ShardedControl",
    "ShardedDeadLetters",
    "merge_claims",
    "merge_depths",
    "sharded_info",
]


def merge_claims(claims: Sequence[Claim], *, complete: bool) -> Claim:
    """One claim from the shards' claims of one turn.

    Args:
        claims: Each asked shard's claim, in the order asked.
        complete: Every shard was asked (else the first ones filled the worker's slots).
    """
    run = [c for claim in claims for c in claim.run]
    cancelled = [j for claim in claims for j in claim.cancelled]
    soonest = [c.next_due_ms for c in claims if c.next_due_ms is not None]
    took = bool(run or cancelled)
    return Claim(
        paused=complete and all(c.paused for c in claims),
        run=run,
        cancelled=cancelled,
        bulk_capped=any(c.bulk_capped for c in claims),
        next_due_ms=min(soonest) if soonest and not took and complete else None,
        calls=sum(c.calls for c in claims),
        missed=any(c.missed for c in claims),
    )


def merge_depths(queue: str, depths: Sequence[QueueDepth]) -> QueueDepth:
    """The shards' depths as one queue's: counts summed, the oldest age the largest."""
    total = _sum(queue, depths)
    for lane in LANES:
        if per_shard := [d.lanes[lane] for d in depths if lane in d.lanes]:
            total.lanes[lane] = _sum(queue, per_shard)
    return total


def _sum(queue: str, depths: Sequence[QueueDepth]) -> QueueDepth:
    return QueueDepth(
        queue=queue,
        depth=sum(d.depth for d in depths),
        in_progress=sum(d.in_progress for d in depths),
        deferred=sum(d.deferred for d in depths),
        oldest_age=max(d.oldest_age for d in depths),
        in_progress_exact=all(d.in_progress_exact for d in depths),
    )


class ShardedControl(Control):
    """Cancel, pause and resume over every shard (``Control``, each method routed)."""

    def __init__(self, queue: Queue) -> None:
        first = queue.shards[0]
        super().__init__(first.redis, first.name, queue.result_ttl, queue.scripts)
        self.logical = queue

    async def cancel(self, job_ids: Sequence[str]) -> list[bool]:
        """Cancels jobs, one pipelined call per shard; per job, as ``Control.cancel``."""
        tagged = [self.logical.job_id(j) for j in job_ids]
        groups: dict[int, list[int]] = {}
        for position, job_id in enumerate(tagged):
            groups.setdefault(self.logical.layout.index(job_id), []).append(position)
        order = list(groups)
        answers = await asyncio.gather(
            *(self.logical.shards[s].control.cancel([tagged[p] for p in groups[s]]) for s in order)
        )
        out = [False] * len(job_ids)
        for shard_index, flags in zip(order, answers, strict=True):
            for position, flag in zip(groups[shard_index], flags, strict=True):
                out[position] = flag
        return out

    async def pause_queue(self) -> bool:
        """Pauses every shard; False if every one was paused already."""
        done = await asyncio.gather(*(s.control.pause_queue() for s in self.logical.shards))
        return any(done)

    async def resume_queue(self) -> bool:
        """Resumes every shard (each wakes an idle worker); False if none was paused."""
        done = await asyncio.gather(*(s.control.resume_queue() for s in self.logical.shards))
        return any(done)

    async def queue_paused(self) -> bool:
        """Whether any shard is paused (a pause or resume cut short shows as paused)."""
        flags = await asyncio.gather(*(s.control.queue_paused() for s in self.logical.shards))
        return any(flags)

    async def pause_job(self, job_id: str) -> bool:
        """Pauses a prefix job on its shard (``Control.pause_job``)."""
        return await self.logical.pause_job(self.logical.job_id(job_id))

    async def resume_job(self, job_id: str) -> bool:
        """Resumes a paused prefix job on its shard."""
        return await self.logical.resume_job(self.logical.job_id(job_id))

    async def job_paused(self, job_id: str) -> bool:
        """Whether a prefix job is paused."""
        return await self.logical.job_paused(self.logical.job_id(job_id))


class ShardedDeadLetters(DeadLetterStore):
    """Every shard's dead letters as one store (``DeadLetterStore``, each method routed)."""

    def __init__(self, queue: Queue) -> None:
        first = queue.shards[0]
        super().__init__(first.redis, first.name, scripts=queue.scripts)
        self.logical = queue

    def _store(self, job_id: str) -> DeadLetterStore:
        return self.logical.shard(job_id).dead_letters

    async def add(
        self,
        *,
        job_id: str,
        function: str | None,
        raw_payload: bytes | None,
        error_type: str,
        message: str,
        code: str | None = None,
        attempts: int = 0,
        priority: str | None = None,
    ) -> DeadLetter:
        """Stores (or replaces) the dead letter of a job, on its shard."""
        return await self._store(job_id).add(
            job_id=job_id,
            function=function,
            raw_payload=raw_payload,
            error_type=error_type,
            message=message,
            code=code,
            attempts=attempts,
            priority=priority,
        )

    async def get(self, job_id: str) -> DeadLetter | None:
        """One dead letter, if there is one for this job."""
        job_id = self.logical.job_id(job_id)
        return await self._store(job_id).get(job_id)

    async def get_many(self, job_ids: builtins.list[str]) -> builtins.list[DeadLetter]:
        """The dead letters of these jobs, in order; missing ones left out."""
        tagged = [self.logical.job_id(j) for j in job_ids]
        found = {
            letter.job_id: letter
            for letters in await asyncio.gather(
                *(
                    self.logical.shards[s].dead_letters.get_many(ids)
                    for s, ids in self.logical._by_shard(tagged).items()
                )
            )
            for letter in letters
        }
        return [found[j] for j in tagged if j in found]

    async def list(self, *, offset: int = 0, limit: int = 100) -> builtins.list[DeadLetter]:
        """Dead letters, oldest first, over every shard."""
        heads = await asyncio.gather(
            *(s.dead_letters.list(offset=0, limit=offset + limit) for s in self.logical.shards)
        )
        merged = sorted((x for head in heads for x in head), key=lambda d: (d.failed_at, d.job_id))
        return merged[offset : offset + limit]

    async def ids(self) -> builtins.list[str]:
        """Every dead-lettered job id (shard by shard, each oldest first)."""
        parts = await asyncio.gather(*(s.dead_letters.ids() for s in self.logical.shards))
        return [job_id for part in parts for job_id in part]

    async def count(self) -> int:
        """How many dead letters there are."""
        return sum(await asyncio.gather(*(s.dead_letters.count() for s in self.logical.shards)))

    async def drop(self, job_id: str) -> bool:
        """Forgets a dead letter; True if there was one."""
        job_id = self.logical.job_id(job_id)
        return await self._store(job_id).drop(job_id)

    async def replay(self, job_id: str, *, limits: JobLimits, result_ttl: float) -> bool:
        """Enqueues a dead letter's job again on its shard (``DeadLetterStore.replay``)."""
        job_id = self.logical.job_id(job_id)
        return await self._store(job_id).replay(job_id, limits=limits, result_ttl=result_ttl)


async def sharded_info(
    queue: Queue, *, health_check_interval: float, kind_sample: int, in_progress_limit: int
) -> QueueInfo:
    """``queue_info`` of a sharded queue: every shard's, merged, and where each shard lives."""
    parts = await asyncio.gather(
        *(
            queue_info(
                queue.redis,
                shard.name,
                health_check_interval=health_check_interval,
                kind_sample=max(1, kind_sample // len(queue.shards)),
                in_progress_limit=in_progress_limit,
            )
            for shard in queue.shards
        )
    )
    nodes: list[str | None] = [None] * len(queue.shards)
    if isinstance(queue.redis, RedisCluster):
        ranges = slot_ranges(await queue.redis.cluster_slots())
        nodes = [r.address if r else None for r in shard_nodes(queue.layout.tags, ranges)]
    kinds: dict[str, int] = {}
    for part in parts:
        for name, count in part.kinds.items():
            kinds[name] = kinds.get(name, 0) + count
    max_age = 3 * health_check_interval
    workers = await live_workers(queue.redis, queue.name, max_age=max_age)
    return QueueInfo(
        counts=merge_depths(queue.name, [p.counts for p in parts]),
        kinds=kinds,
        kinds_sampled=any(p.kinds_sampled for p in parts),
        kinds_sample_size=sum(p.kinds_sample_size for p in parts),
        dead_letters=sum(p.dead_letters for p in parts),
        workers=tuple(workers),
        worker_max_age=max_age,
        at=min(p.at for p in parts),
        paused=any(p.paused for p in parts),
        shards=tuple(
            ShardInfo(shard.name, node, part.counts)
            for shard, node, part in zip(queue.shards, nodes, parts, strict=True)
        ),
    )
