"""The clients' schedule methods: add, remove, pause, resume and list a queue's schedules.

Workers run them (``docs/schedules.md``): each tick is enqueued once as a job whose id names
the schedule and the tick. Everything a caller gives is checked before Redis is touched.
Writing schedules takes the operator's Redis user where ACLs are on (``ops/redis-acl.txt``).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ..queue import Overlap, Priority, ScheduleDefinition, ScheduleRecord

if TYPE_CHECKING:
    from ..jobs import JobLimits, JobModel
    from ..queue import Queue
    from ._async_client import StorageJobsClient

__all__ = ["Scheduling", "SyncScheduling"]

T = TypeVar("T")


class Scheduling:
    """``StorageJobsClient``'s schedule methods (it provides ``queue`` and ``limits``)."""

    limits: JobLimits

    @property
    def queue(self) -> Queue:
        """The client's queue (``StorageJobsClient.queue``)."""
        raise NotImplementedError

    async def schedule(
        self,
        name: str,
        job: JobModel,
        *,
        every: float | timedelta | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        priority: Priority | None = None,
        overlap: Overlap = "skip",
    ) -> ScheduleRecord:
        """Adds a schedule, or changes the one of that name; workers enqueue its ticks.

        Declaring the same schedule again (at every start of an application) changes
        nothing: its ticks and counts stay. A changed one ticks first ``every`` after now, or
        at its cron expression's next time.

        Args:
            name: Its name: 1-100 letters, digits, ``_``, ``.``, ``-``.
            job: The job each tick enqueues (checked against the configured limits).
            every: Seconds (or a timedelta) between ticks, at least 1; or
            cron: A cron expression (``"0 3 * * *"``), read by croniter in ``timezone``.
            timezone: An IANA zone name for ``cron`` (DST as croniter handles it).
            priority: The jobs' lane (see ``enqueue``).
            overlap: ``skip`` (a tick whose previous run is still queued or running is
                skipped and counted) or ``queue`` (enqueued anyway).

        Returns:
            The schedule as stored.

        Raises:
            ValueError: A bad name, both or neither of every and cron, every under 1 s, a bad
                cron expression, an unknown time zone, priority or overlap (nothing written).
            TypeError: If ``job`` is not a storage job.
            JobRejectedError: If the job breaks a configured limit.
        """
        definition = ScheduleDefinition.build(
            name,
            job,
            every=every,
            cron=cron,
            timezone=timezone,
            priority=priority,
            overlap=overlap,
            limits=self.limits,
        )
        await self.queue.schedules.add(definition, now_ms=_now_ms())
        record = await self.queue.schedules.get(name)
        assert record is not None, "a schedule written this moment"
        return record

    async def unschedule(self, name: str) -> bool:
        """Removes a schedule (a tick being enqueued this very moment may still run).

        Returns:
            False if there was none of that name.
        """
        return await self.queue.schedules.remove(name)

    async def pause_schedule(self, name: str) -> bool:
        """Pauses a schedule; False if there is none or it was paused."""
        return await self.queue.schedules.pause(name)

    async def resume_schedule(self, name: str) -> bool:
        """Resumes a schedule at its next tick from now (the paused ones are not caught up).

        Returns:
            False if there is none or it was not paused.
        """
        return await self.queue.schedules.resume(name, now_ms=_now_ms())

    async def schedules(self) -> list[ScheduleRecord]:
        """Every schedule of the queue, by name."""
        return await self.queue.schedules.all()


class SyncScheduling:
    """``SyncStorageJobsClient``'s schedule methods (blocking twins of ``Scheduling``'s)."""

    _client: StorageJobsClient

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        raise NotImplementedError

    def schedule(
        self,
        name: str,
        job: JobModel,
        *,
        every: float | timedelta | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        priority: Priority | None = None,
        overlap: Overlap = "skip",
    ) -> ScheduleRecord:
        """Adds or changes a schedule (see ``StorageJobsClient.schedule``)."""
        coro = self._client.schedule(
            name,
            job,
            every=every,
            cron=cron,
            timezone=timezone,
            priority=priority,
            overlap=overlap,
        )
        return self._run(coro)

    def unschedule(self, name: str) -> bool:
        """Removes a schedule (see ``StorageJobsClient.unschedule``)."""
        return self._run(self._client.unschedule(name))

    def pause_schedule(self, name: str) -> bool:
        """Pauses a schedule."""
        return self._run(self._client.pause_schedule(name))

    def resume_schedule(self, name: str) -> bool:
        """Resumes a paused schedule."""
        return self._run(self._client.resume_schedule(name))

    def schedules(self) -> list[ScheduleRecord]:
        """Every schedule of the queue, by name."""
        return self._run(self._client.schedules())


def _now_ms() -> int:
    return int(time.time() * 1000)
