"""SyncStorageJobsClient: the producer API for code without an event loop (Django, Flask)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar

from ..jobs import JobModel
from ..queue import JobEvent, JobStatus, Priority, check_priority
from ..settings import Settings
from ._async_client import StorageJobsClient
from ._handle import JobHandle
from ._scheduling import SyncScheduling

__all__ = ["SyncJobHandle", "SyncStorageJobsClient"]

T = TypeVar("T")


class SyncStorageJobsClient(SyncScheduling):
    """A blocking facade over StorageJobsClient, safe to share between threads.

    It runs one event loop in a daemon thread; every call hands a coroutine to it and waits.

    Example:
        >>> jobs = SyncStorageJobsClient(redis_url="redis://localhost")  # doctest: +SKIP
        >>> handle = jobs.enqueue(DeleteJob(bucket="b", keys=["k"]))  # doctest: +SKIP
        >>> handle.result(timeout=30)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        queue_name: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Starts the background loop and connects; arguments as for StorageJobsClient."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="storage-jobs-client", daemon=True
        )
        self._thread.start()
        self._client = StorageJobsClient(
            redis_url=redis_url, queue_name=queue_name, settings=settings
        )
        self._run(self._client.connect())

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def enqueue(
        self,
        job: JobModel,
        *,
        job_id: str | None = None,
        defer_by: float | None = None,
        priority: Priority | None = None,
        expires: float | timedelta | None = None,
    ) -> SyncJobHandle:
        """Enqueues one job (see ``StorageJobsClient.enqueue``)."""
        if priority is not None:
            check_priority(priority)
        coro = self._client.enqueue(
            job, job_id=job_id, defer_by=defer_by, priority=priority, expires=expires
        )
        return SyncJobHandle(self, self._run(coro))

    def enqueue_many(
        self,
        jobs: Sequence[JobModel],
        *,
        priority: Priority | None = None,
        expires: float | timedelta | None = None,
    ) -> list[SyncJobHandle]:
        """Enqueues many jobs pipelined (see ``StorageJobsClient.enqueue_many``)."""
        if priority is not None:
            check_priority(priority)
        handles = self._run(self._client.enqueue_many(jobs, priority=priority, expires=expires))
        return [SyncJobHandle(self, h) for h in handles]

    def events(
        self, since: str | None = None, *, limit: int = 100, wait: float | None = None
    ) -> list[JobEvent]:
        """Up to ``limit`` completion events after ``since`` (a bounded read, oldest first).

        Resume with the last one's ``id`` (see ``StorageJobsClient.events``).

        Args:
            since: An event's ``id`` to read after; None: from the oldest event kept.
            limit: Events to return at most.
            wait: Seconds to wait for a first event when none is there yet (None: no wait).
        """
        return self._run(self._read_events(since, limit, wait))

    async def _read_events(
        self, since: str | None, limit: int, wait: float | None
    ) -> list[JobEvent]:
        reader = self._client.queue.events(since)
        events: list[JobEvent] = []
        while len(events) < limit:
            # Each shard answers up to the count: no more than the limit is read past.
            count = max(1, (limit - len(events)) // len(reader.keys))
            got = await reader.read(count, wait if not events else None)
            if not got:
                break
            events += got
        return events[:limit]

    def handle(self, job_id: str) -> SyncJobHandle:
        """A handle for a job enqueued earlier."""
        return SyncJobHandle(self, self._client.handle(job_id))

    def cancel(self, job_id: str) -> bool:
        """Cancels a job (see ``StorageJobsClient.cancel``)."""
        return self._run(self._client.cancel(job_id))

    def pause_queue(self) -> bool:
        """Pauses the queue (see ``StorageJobsClient.pause_queue``)."""
        return self._run(self._client.pause_queue())

    def resume_queue(self) -> bool:
        """Resumes the queue."""
        return self._run(self._client.resume_queue())

    def pause(self, job_id: str) -> bool:
        """Pauses a prefix job (see ``StorageJobsClient.pause``)."""
        return self._run(self._client.pause(job_id))

    def resume(self, job_id: str) -> bool:
        """Resumes a paused prefix job."""
        return self._run(self._client.resume(job_id))

    def close(self) -> None:
        """Closes the connection and stops the background loop."""
        if self._loop.is_closed():
            return
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> SyncStorageJobsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncJobHandle:
    """The blocking twin of JobHandle."""

    def __init__(self, owner: SyncStorageJobsClient, handle: JobHandle) -> None:
        self._owner = owner
        self._handle = handle
        self.job_id = handle.job_id
        self.enqueued = handle.enqueued

    def __repr__(self) -> str:
        return f"SyncJobHandle(job_id={self.job_id!r}, enqueued={self.enqueued})"

    def status(self) -> JobStatus:
        """The job's current status."""
        return self._owner._run(self._handle.status())

    def cancel(self) -> bool:
        """Cancels the job; True if it will not complete normally."""
        return self._owner._run(self._handle.cancel())

    def result(self, timeout: float | None = None) -> Any:
        """Waits for the typed result (raises JobFailedError, JobCancelledError, TimeoutError)."""
        return self._owner._run(self._handle.result(timeout))
