"""StorageJobsClient: validate, then enqueue in one round trip (per job or per batch)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..jobs import JobModel, MigrationProgress
from ..queue import (
    Control,
    EvictionPolicy,
    JobEvent,
    JobStatus,
    NewJob,
    Priority,
    Queue,
    QueueKeys,
    ResultWaiter,
    check_priority,
    open_queue,
    queue_on,
)
from ..settings import Settings
from ._handle import JobHandle
from ._scheduling import Scheduling

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["StorageJobsClient"]

log = logging.getLogger("storage_jobs.client")


class StorageJobsClient(Scheduling):
    """Enqueues storage jobs; use it as an async context manager, one per process.

    Example:
        >>> async with StorageJobsClient(redis_url="redis://localhost") as jobs:  # doctest: +SKIP
        ...     handle = await jobs.enqueue(DeleteJob(bucket="b", keys=["a", "b"]))
        ...     result = await handle.result(timeout=30)

    Schedules (``schedule``, ``unschedule``, ``schedules``...) come from ``Scheduling``.
    """

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        queue_name: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Builds a client; nothing connects before ``__aenter__``/``connect()``.

        Args:
            redis_url: Redis URL (``redis://``, ``rediss://``, with password); overrides settings.
            queue_name: The queue; overrides settings.
            settings: Settings; read from the environment when not given.
        """
        base = settings or Settings()
        update: dict[str, Any] = {}
        if redis_url is not None:
            update["redis_url"] = redis_url
        if queue_name is not None:
            update["queue_name"] = queue_name
        self.settings = base.model_validate({**base.model_dump(), **update}) if update else base
        self.queue_name = self.settings.queue_name
        self.keys = QueueKeys(self.queue_name)
        self.limits = self.settings.job_limits()
        self._queue: Queue | None = None
        self._waiter: ResultWaiter | None = None
        self._borrowed = False
        self.eviction_policy: EvictionPolicy | None = None
        """Redis's ``maxmemory-policy`` as read by ``connect()`` (None before)."""

    def __repr__(self) -> str:
        return (
            f"StorageJobsClient(redis={self.settings.redis_url_redacted!r}, "
            f"queue={self.queue_name!r})"
        )

    @classmethod
    def on_connection(
        cls, redis: Redis, settings: Settings, *, queue: Queue | None = None
    ) -> StorageJobsClient:
        """A client sharing an existing connection (a CLI command's, or an application's).

        Args:
            redis: The connection; the client does not close it.
            settings: Settings (the queue and its result TTL).
            queue: The ``Queue`` already built on ``redis`` for this queue, to share its
                scripts; one is built here when not given.
        """
        client = cls(settings=settings)
        client._queue = queue or client._queue_on(redis)
        client._borrowed = True
        return client

    def _queue_on(self, redis: Redis) -> Queue:
        return queue_on(redis, self.settings)

    async def connect(self) -> None:
        """Opens the Redis connection and checks its eviction policy once (idempotent).

        Anything but ``noeviction`` is logged as an error (logger ``storage_jobs.client``) and
        kept in ``eviction_policy``; enqueueing still works.
        """
        if self._queue is None:
            self._queue = await open_queue(self.settings)
            self._waiter = ResultWaiter(self._queue.redis, self.queue_name)
            await self._check_eviction_policy(self._queue)

    async def _check_eviction_policy(self, queue: Queue) -> None:
        try:
            policy = await queue.eviction_policy(declared=self.settings.redis_maxmemory_policy)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # Connecting stays lazy: an unreachable Redis fails the first command, which says so
            # (the CLI's one-line error and exit 4); a second message here would only repeat it.
            return
        except RedisError as exc:
            log.warning("could not read Redis maxmemory-policy: %s", type(exc).__name__)
            return
        self.eviction_policy = policy
        if (problem := policy.problem()) is not None:
            log.error("%s (queue %s)", problem, self.queue_name)

    async def close(self) -> None:
        """Closes the Redis connection."""
        queue, self._queue = self._queue, None
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            await waiter.close()
        if queue is not None and not self._borrowed:
            await queue.redis.aclose()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def queue(self) -> Queue:
        """The queue's protocol on the client's connection (it owns the scripts, once).

        Raises:
            RuntimeError: Before ``connect()``.
        """
        if self._queue is None:
            raise RuntimeError("StorageJobsClient is not connected; use 'async with' or connect()")
        return self._queue

    @property
    def redis(self) -> Redis:
        """The Redis connection.

        Raises:
            RuntimeError: Before ``connect()``.
        """
        return self.queue.redis

    async def enqueue(
        self,
        job: JobModel,
        *,
        job_id: str | None = None,
        defer_by: float | None = None,
        priority: Priority | None = None,
        expires: float | timedelta | None = None,
    ) -> JobHandle:
        """Validates and enqueues one job.

        Args:
            job: An UploadJob, CopyJob, DeleteJob, ...
            job_id: Your id for it; the same id enqueued twice runs once.
            defer_by: Seconds to wait before it may run.
            priority: Its lane: ``"high"``, ``"normal"`` (the default) or ``"bulk"``. Workers
                take high before normal before bulk, giving each lower lane one claim in 8. A
                migration's or prefix delete's batches run in ``bulk`` unless a priority is
                given here: then they run in that lane.
            expires: Seconds (or a ``timedelta``) from now: a job not started by then never
                runs; it ends ``expired`` (``handle.result()`` raises ``JobExpiredError``).

        Returns:
            The handle; ``handle.enqueued`` is False if the id was already taken.

        Raises:
            JobRejectedError: If the job breaks a configured limit (nothing is enqueued).
            QueueFullError: If Redis is full (``maxmemory``); nothing is enqueued.
            QueueUnavailableError: If Redis refused the write (NOPERM, READONLY, ...); the job
                is written whole or not at all, and enqueueing it again under the same id is
                safe.
            TypeError: If ``job`` is not a storage job.
            ValueError: If ``priority`` is not one of the three, or ``expires`` is not after
                ``defer_by`` (before Redis is touched).
        """
        (handle,) = await self._enqueue([(job, job_id, defer_by)], priority, expires)
        return handle

    async def enqueue_many(
        self,
        jobs: Sequence[JobModel],
        *,
        job_ids: Sequence[str] | None = None,
        defer_by: float | None = None,
        priority: Priority | None = None,
        expires: float | timedelta | None = None,
    ) -> list[JobHandle]:
        """Validates every job, then enqueues them pipelined (one round trip per 6,000 jobs).

        Args:
            jobs: The jobs.
            job_ids: Ids for them (same length), e.g. derived ids that make re-enqueueing
                after a crash a no-op; random ids when not given.
            defer_by: Seconds to wait before they may run.
            priority: Their lane (see ``enqueue``).
            expires: Their expiry (see ``enqueue``).

        Raises:
            JobRejectedError: If any job breaks a limit; then none is enqueued.
            QueueFullError: If Redis is full (``maxmemory``). Each job is written whole or not
                at all; the error's ``enqueued`` lists the ids that were. Pass ``job_ids`` to
                retry the call safely.
            QueueUnavailableError: If Redis refused the writes (likewise).
            ValueError: If ``priority`` is not one of the three (before Redis is touched).
        """
        if job_ids is not None and len(job_ids) != len(jobs):
            raise ValueError(f"{len(jobs)} jobs but {len(job_ids)} job ids")
        ids: Sequence[str | None] = job_ids if job_ids is not None else [None] * len(jobs)
        items = [(job, i, defer_by) for job, i in zip(jobs, ids, strict=True)]
        return await self._enqueue(items, priority, expires)

    async def _enqueue(
        self,
        items: Sequence[tuple[JobModel, str | None, float | None]],
        priority: Priority | None = None,
        expires: float | timedelta | None = None,
    ) -> list[JobHandle]:
        if priority is not None:
            check_priority(priority)
        if isinstance(expires, timedelta):
            expires = expires.total_seconds()
        queue = self.queue
        answers = await queue.enqueue_many(
            [
                NewJob(job, job_id, defer_by, priority, expires=expires)
                for job, job_id, defer_by in items
            ],
            limits=self.limits,
        )
        return [
            JobHandle(job_id, ok, self.queue_name, queue, self._waiter) for job_id, ok in answers
        ]

    def handle(self, job_id: str) -> JobHandle:
        """A handle for a job enqueued earlier (by anyone)."""
        return JobHandle(
            self.queue.job_id(job_id), False, self.queue_name, self.queue, self._waiter
        )

    async def status(self, job_id: str) -> JobStatus:
        """A job's status by id."""
        return await self.queue.status(job_id)

    @property
    def control(self) -> Control:
        """Cancel markers and pause flags of this queue."""
        return self.queue.control

    async def cancel(self, job_id: str) -> bool:
        """Cancels a job; durable, it holds even if no worker runs now.

        A queued or deferred job never runs; a running one stops at its next safe point
        (between S3 requests or batches) and records what it did; a migration or prefix delete
        cancels its coordinator and every batch and writes its report. A job that passed its
        last safe point (a single-request upload in flight) may still complete.

        Returns:
            True when it will not complete normally (it was queued, deferred or running: its
            status becomes ``cancelled`` and ``result()`` raises ``JobCancelledError``); False
            when it had already finished or is unknown.
        """
        (answer,) = await self.control.cancel([job_id])
        return answer

    async def pause_queue(self) -> bool:
        """Pauses the queue: workers finish what they run and take nothing new.

        Returns:
            False if it was paused already.
        """
        return await self.control.pause_queue()

    async def resume_queue(self) -> bool:
        """Resumes the queue; False if it was not paused."""
        return await self.control.resume_queue()

    async def queue_paused(self) -> bool:
        """Whether the queue is paused."""
        return await self.control.queue_paused()

    async def pause(self, job_id: str) -> bool:
        """Pauses one migration, verification or prefix delete: its batches are not taken.

        Its listing waits; running batches stop at their next object (copies in flight finish
        and are recorded) and are parked with the rest; other jobs keep flowing.

        Returns:
            True when it is paused now; False if it has finished, is unknown or was paused.

        Raises:
            JobRejectedError: If the job is not a prefix job.
        """
        return await self.control.pause_job(job_id)

    async def resume(self, job_id: str) -> bool:
        """Resumes a paused prefix job from where it was (nothing is copied twice).

        Returns:
            False if it was not paused.
        """
        return await self.control.resume_job(job_id)

    async def progress(self, job_id: str) -> MigrationProgress:
        """The progress of a MigrateJob or DeletePrefixJob (listed, copied, skipped, failed...).

        A job that has not started yet reads as status ``unknown`` with zero counts.
        """
        return await self.queue.progress(job_id).read()

    async def events(
        self,
        since: str | None = None,
        *,
        follow: bool = True,
        batch: int = 100,
        wait: float = 5.0,
    ) -> AsyncIterator[JobEvent]:
        """The queue's completion events, oldest first: one per job that ended.

        Resumable: each event's ``id`` is where to pick up after it (``since=event.id``). On
        a sharded queue the id is a composite cursor holding every shard's position, so the
        resume covers all shards; events of different shards come merged by time.

        Args:
            since: An event's ``id`` to resume after; None: the oldest event the stream keeps.
            follow: Wait for new events for ever; False: stop once caught up.
            batch: Events read per round trip (per shard).
            wait: Seconds one blocking read waits before it reads again (``follow``).

        Raises:
            ValueError: If ``since`` is not an event id of this queue (its shard count).
        """
        reader = self.queue.events(since)
        while True:
            got = await reader.read(batch, wait if follow else None)
            for event in got:
                yield event
            if not got and not follow:
                return

    async def replay(self, job_id: str) -> JobHandle:
        """Enqueues a dead letter's job again under its id, after validating it again.

        Raises:
            ReplayRefusedError: If there is no such dead letter, its payload is not a valid
                job, it breaks a configured limit, or a job with this id is queued or running.
        """
        queue = self.queue
        await queue.dead_letters.replay(job_id, limits=self.limits, result_ttl=queue.result_ttl)
        return JobHandle(job_id, True, self.queue_name, queue, self._waiter)
