"""``ReaderSide``: a ``Queue``'s reads: a job's status and result, lists, depth, events."""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import TYPE_CHECKING

from ._event_stream import EventGroup, EventReader
from ._info import IN_PROGRESS_LIMIT, KIND_SAMPLE, queue_info
from ._listings import Listings
from ._routing import ShardRouting
from ._spread import merge_depths, sharded_info

if TYPE_CHECKING:
    from ._info import QueueDepth, QueueInfo
    from ._memory import EvictionPolicy
    from ._status import JobStatus
    from ._wire import ResultRecord

__all__ = ["ReaderSide"]


class ReaderSide(ShardRouting):
    """Reads for clients, the CLI and the dashboard, and the completion events."""

    @cached_property
    def listings(self) -> Listings:
        """Its job lists and job records, every shard's merged (the dashboard's reads)."""
        return Listings(self._as_queue)

    async def status(self, job_id: str) -> JobStatus:
        """Where a job is (one round trip)."""
        return await self.shard(job_id).status(self.job_id(job_id))

    async def result(self, job_id: str) -> ResultRecord | None:
        """A job's final outcome, or None while it may still run."""
        return await self.shard(job_id).result(self.job_id(job_id))

    async def stored_result(self, job_id: str) -> ResultRecord | None:
        """The job's stored result record, if any (no dead letter stands in for it)."""
        return await self.shard(job_id).stored_result(self.job_id(job_id))

    async def lease_holder(self, job_id: str) -> str | None:
        """The id of the worker whose lease on the job is live, if any."""
        return await self.shard(job_id).lease_holder(self.job_id(job_id))

    async def depth(self, *, in_progress_limit: int = IN_PROGRESS_LIMIT) -> QueueDepth:
        """Ready, running and deferred jobs, all lanes and shards summed (``queue_depth``)."""
        if self.single is not None:
            return await self.single.depth(in_progress_limit=in_progress_limit)
        depths = await asyncio.gather(
            *(s.depth(in_progress_limit=in_progress_limit) for s in self.shards)
        )
        return merge_depths(self.name, depths)

    async def info(
        self,
        *,
        health_check_interval: float = 5.0,
        kind_sample: int = KIND_SAMPLE,
        in_progress_limit: int = IN_PROGRESS_LIMIT,
    ) -> QueueInfo:
        """Everything ``storage-jobs queue`` shows (``queue_info``), every shard's merged."""
        if self.single is not None and not self.layout.tagged:
            return await queue_info(
                self.redis,
                self.name,
                health_check_interval=health_check_interval,
                kind_sample=kind_sample,
                in_progress_limit=in_progress_limit,
            )
        return await sharded_info(
            self._as_queue,
            health_check_interval=health_check_interval,
            kind_sample=kind_sample,
            in_progress_limit=in_progress_limit,
        )

    async def eviction_policy(self, *, declared: str | None = None) -> EvictionPolicy:
        """Redis's eviction policy, and whether queued jobs are safe from it."""
        return await self.shards[0].eviction_policy(declared=declared)

    # -- completion events -----------------------------------------------------------------------

    def events(self, since: str | None = None) -> EventReader:
        """A resumable read of the queue's completion events, every shard's (``_event_stream``).

        Raises:
            ValueError: If ``since`` is not an event id (cursor) of this queue.
        """
        return EventReader(self._as_queue, since)

    def event_groups(self, consumer: str) -> list[EventGroup]:
        """The webhooks' consumer group on each shard's events stream, for ``consumer``."""
        return [EventGroup(self.redis, s.keys.events, consumer) for s in self.shards]
