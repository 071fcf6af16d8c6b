"""The operator's side of a queue of many shards: control and dead letters answered as one.

Each piece here takes the logical ``Queue`` and asks its shards: a job's call goes to the job's
shard, a queue-wide one to every shard (concurrently), and the answers are merged the way a
single queue's would read.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._control import Control
from ._dead_letters import DeadLetterStore

if TYPE_CHECKING:
    from ..jobs import JobLimits
    from ._dead_letters import DeadLetter
    from ._queue import Queue

__all__ = ["ShardedControl", "ShardedDeadLetters"]


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
