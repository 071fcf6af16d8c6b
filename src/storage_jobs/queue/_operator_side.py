"""``OperatorSide``: a ``Queue``'s calls for an operator: cancel, pause, resume, schedules."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from ._routing import ShardRouting
from ._schedules import ScheduleStore
from ._sharded import ShardedControl
from ._ticks import fire_due

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._control import Control, RedisJobControl
    from ._ticks import TickRound

__all__ = ["OperatorSide"]


class OperatorSide(ShardRouting):
    """The operator's side of the queue: cancel, pause and resume, and the schedules."""

    @cached_property
    def control(self) -> Control:
        """Cancel, pause and resume, over every shard."""
        if self.single is not None:
            return self.single.control
        return ShardedControl(self._as_queue)

    def job_control(self, job_id: str) -> RedisJobControl:
        """A running job's view of its cancel and pause flags."""
        job_id = self.job_id(job_id)
        return self.shard(job_id).job_control(job_id)

    async def cancel(self, job_ids: Sequence[str]) -> list[bool]:
        """Cancels jobs; per job, True when it will not complete normally."""
        return await self.control.cancel(job_ids)

    async def pause(self) -> bool:
        """Pauses the queue (every shard); False if it was paused already."""
        return await self.control.pause_queue()

    async def resume(self) -> bool:
        """Resumes the queue and wakes an idle worker; False if it was not paused."""
        return await self.control.resume_queue()

    async def paused(self) -> bool:
        """Whether the queue is paused."""
        return await self.control.queue_paused()

    async def pause_job(self, job_id: str) -> bool:
        """Pauses a migration or prefix delete (``Control.pause_job``)."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).pause_job(job_id)

    async def resume_job(self, job_id: str) -> bool:
        """Resumes a paused prefix job; False if it was not paused."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).resume_job(job_id)

    async def job_paused(self, job_id: str) -> bool:
        """Whether a prefix job is paused."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).job_paused(job_id)

    # -- schedules --------------------------------------------------------------------------------

    @cached_property
    def schedules(self) -> ScheduleStore:
        """The queue's schedules, under its ``home`` name (one slot on a tagged queue)."""
        return ScheduleStore(self.redis, self.home, self.scripts)

    async def fire_schedules(self, now_ms: int) -> TickRound:
        """Enqueues the due schedules' ticks, each once however many workers call (``fire_due``)."""
        return await fire_due(self._as_queue, now_ms)
