"""A logical queue's lists for its readers (the dashboard), every shard's indexes merged.

One shard's lists are ``_index``'s and ``_history``'s, unchanged. Over several, each page reads
the head of every shard's index (``offset + limit`` ids of each, one round trip per shard, all
concurrent) and merges them into the order one queue's would read: finished jobs, dead letters
and prefix jobs newest first; queued and deferred jobs lane by lane (high, normal, bulk), each
lane soonest first, running ones left out as ``_running`` tells them. A deep page costs its
offset on every shard; the dashboard reads a bounded window past a page's start.

A job's own reads (its record, a dead letter's key) go to its shard, by the tag of its id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._history import MinuteCounts, read_history
from ._index import ListedState, list_ids, prefix_job_ids
from ._job_record import JobRecord, read_job
from ._keys import QueueKeys
from ._running import LEASES_CHECKED, LaneSide, Side, read_sides

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._queue import Queue

__all__ = ["Listings"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Listings:
    """The lists and job records of one logical queue, over its shards."""

    queue: Queue

    @property
    def redis(self) -> Redis:
        """The queue's connection."""
        return self.queue.redis

    @property
    def names(self) -> tuple[str, ...]:
        """The shards' names."""
        return self.queue.layout.names

    async def ids(
        self,
        state: ListedState,
        *,
        offset: int,
        limit: int,
        leases_checked: int = LEASES_CHECKED,
    ) -> tuple[list[tuple[str, float]], int]:
        """One page of job ids in a state with their score (seconds), and the state's total.

        As ``list_ids`` on one queue, in the same order, over every shard.
        """
        if len(self.names) == 1:
            return await list_ids(
                self.redis,
                self.names[0],
                state,
                offset=offset,
                limit=limit,
                leases_checked=leases_checked,
            )
        if state in ("queued", "deferred"):
            return await self._waiting(state, offset, limit, leases_checked)
        indexes = [
            QueueKeys(n).dead_index if state == "dead" else QueueKeys(n).finished(state)
            for n in self.names
        ]
        return await self._newest(indexes, offset, limit)

    async def prefix_job_ids(self, *, offset: int, limit: int) -> tuple[list[str], int]:
        """One page of migration and prefix delete ids, newest first, and how many there are."""
        if len(self.names) == 1:
            return await prefix_job_ids(self.redis, self.names[0], offset=offset, limit=limit)
        page, total = await self._newest(
            [QueueKeys(n).prefix_jobs for n in self.names], offset, limit
        )
        return [job_id for job_id, _ in page], total

    async def history(self, *, minutes: int = 60, now: float | None = None) -> list[MinuteCounts]:
        """The last ``minutes`` minutes' outcome counters, every shard's summed, oldest first."""
        now = time.time() if now is None else now
        parts = await asyncio.gather(
            *(read_history(self.redis, n, minutes=minutes, now=now) for n in self.names)
        )
        if len(parts) == 1:
            return parts[0]
        fields = [f for f in MinuteCounts.model_fields if f != "minute"]
        return [
            MinuteCounts(
                minute=rows[0].minute,
                **{f: sum(getattr(row, f) for row in rows) for f in fields},
            )
            for rows in zip(*parts, strict=True)
        ]

    async def job(self, job_id: str) -> JobRecord:
        """Everything Redis holds about a job (``read_job``), read on its shard."""
        job_id = self.queue.job_id(job_id)
        return await read_job(self.redis, self.queue.shard(job_id).name, job_id)

    def dead_data(self, job_id: str) -> str:
        """The hash holding a job's dead letter: its shard's."""
        return self.queue.shard(job_id).keys.dead_data

    async def _newest(
        self, indexes: Sequence[str], offset: int, limit: int
    ) -> tuple[list[tuple[str, float]], int]:
        """A page of several sorted sets merged, highest score first, and their sizes summed."""

        async def head(index: str) -> tuple[list[tuple[str, float]], int]:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrevrange(index, 0, offset + limit - 1, withscores=True)
                pipe.zcard(index)
                members, total = await pipe.execute()
            return [(_text(m), float(s)) for m, s in members], int(total)

        heads = await asyncio.gather(*(head(index) for index in indexes))
        merged = sorted((row for rows, _ in heads for row in rows), key=lambda r: (-r[1], r[0]))
        return merged[offset : offset + limit], sum(total for _, total in heads)

    async def _waiting(
        self, state: ListedState, offset: int, limit: int, check: int
    ) -> tuple[list[tuple[str, float]], int]:
        """Queued or deferred jobs of every shard: lane by lane, each merged soonest first."""
        side: Side = "due" if state == "queued" else "later"
        now_ms = int(time.time() * 1000)
        per_shard = await asyncio.gather(
            *(
                read_sides(self.redis, s.keys.lanes, (side,), now_ms=now_ms, check=check)
                for s in self.queue.shards
            )
        )
        lanes: list[list[LaneSide]] = [list(sides) for sides in zip(*per_shard, strict=True)]
        page: list[tuple[str, float]] = []
        skip = offset
        for sides in lanes:
            want = limit - len(page)
            waiting = sum(s.waiting for s in sides)
            if want <= 0:
                break
            if skip >= waiting:
                skip -= waiting
                continue
            heads = await asyncio.gather(*(s.page(self.redis, 0, skip + want) for s in sides))
            merged = sorted((row for rows in heads for row in rows), key=lambda r: (r[1], r[0]))
            page += [(job_id, score / 1000.0) for job_id, score in merged[skip : skip + want]]
            skip = 0
        return page, sum(s.waiting for sides in lanes for s in sides)
