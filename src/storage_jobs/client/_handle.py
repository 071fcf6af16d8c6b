"""JobHandle: a job's id, and the way to its status and typed result."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..queue import JobStatus, ResultWaiter

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..queue import Queue

__all__ = ["JobHandle"]


@dataclass(frozen=True)
class JobHandle:
    """A job on the queue.

    Attributes:
        job_id: The job's id.
        enqueued: False when a job with this id already existed, so this call added nothing.
    """

    job_id: str
    enqueued: bool
    queue_name: str
    queue: Queue = field(repr=False, compare=False)
    waiter: ResultWaiter | None = field(default=None, repr=False, compare=False)

    @property
    def redis(self) -> Redis:
        """The client's connection."""
        return self.queue.redis

    @property
    def result_ttl(self) -> float:
        """Seconds the job's result is kept."""
        return self.queue.result_ttl

    async def cancel(self) -> bool:
        """Cancels the job (see ``StorageJobsClient.cancel``); True if it will not complete."""
        (answer,) = await self.queue.cancel([self.job_id])
        return answer

    async def status(self) -> JobStatus:
        """The job's current status."""
        return await self.queue.status(self.job_id)

    async def result(self, timeout: float | None = None, *, poll_interval: float = 0.05) -> Any:
        """Waits for the job to finish and returns its typed result.

        Args:
            timeout: Seconds to wait; ``None`` waits forever.
            poll_interval: First wait between checks (grows to 0.5 s).

        Returns:
            The result model of the job's kind (UploadResult, CopyResult, DeleteResult...).

        Raises:
            JobCancelledError: If the job was cancelled (``progress`` says what it did).
            JobExpiredError: If it was not started before its ``expires`` (it never ran).
            JobFailedError: If the job failed for good.
            TimeoutError: If it did not finish in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        while True:
            # Registered before the read, so an announcement between the two is not missed.
            async with self._watch() as changed:
                outcome = await self.queue.result(self.job_id)
                if outcome is not None:
                    return outcome.typed(self.job_id)
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {self.job_id} did not finish within {timeout} s")
                if changed is None:
                    most, interval = interval, min(interval * 1.5, 0.5)
                else:
                    most = self.waiter.fallback if self.waiter is not None else interval
                if deadline is not None:
                    most = min(most, deadline - time.monotonic())
                await _sleep(changed, max(most, 0.0))

    @contextlib.asynccontextmanager
    async def _watch(self) -> AsyncIterator[asyncio.Event | None]:
        if self.waiter is None:
            yield None
            return
        async with self.waiter.watch(self.job_id) as changed:
            yield changed


async def _sleep(changed: asyncio.Event | None, seconds: float) -> None:
    """Sleeps ``seconds``, or less if ``changed`` is set first."""
    if changed is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(changed.wait(), seconds)
