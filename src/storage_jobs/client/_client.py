"""StorageJobsClient: validate, then enqueue in one round trip (per job or per batch)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._keys import QueueKeys
from .._redis import connect_redis
from ..jobs import JobLimits, JobModel, MigrationProgress, ProgressStore, spec_for_job
from ..settings import Settings
from ..worker import encode
from ._handle import JobHandle, JobStatus, read_status

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["StorageJobsClient"]

# Atomic "add unless this id exists or has a result": the same job id runs once.
_ENQUEUE = """
if redis.call('exists', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('psetex', KEYS[1], ARGV[2], ARGV[1])
redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
redis.call('lpush', KEYS[4], '1')
redis.call('ltrim', KEYS[4], 0, 0)
return 1
"""

_BATCH = 1000


class StorageJobsClient:
    """Enqueues storage jobs; use it as an async context manager, one per process.

    Example:
        >>> async with StorageJobsClient(redis_url="redis://localhost") as jobs:  # doctest: +SKIP
        ...     handle = await jobs.enqueue(DeleteJob(bucket="b", keys=["a", "b"]))
        ...     result = await handle.result(timeout=30)
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
        self.limits = JobLimits(
            upload_roots=tuple(self.settings.upload_roots),
            max_inline_bytes=self.settings.max_inline_bytes,
            max_delete_keys=self.settings.max_delete_keys,
        )
        self._redis: Redis | None = None
        self._script: AsyncScript | None = None
        self._borrowed = False

    def __repr__(self) -> str:
        return (
            f"StorageJobsClient(redis={self.settings.redis_url_redacted!r}, "
            f"queue={self.queue_name!r})"
        )

    @classmethod
    def on_connection(cls, redis: Redis, settings: Settings) -> StorageJobsClient:
        """A client sharing an existing connection (the worker's, for jobs that fan out)."""
        client = cls(settings=settings)
        client._redis = redis
        client._script = redis.register_script(_ENQUEUE)
        client._borrowed = True
        return client

    async def connect(self) -> None:
        """Opens the Redis connection (idempotent)."""
        if self._redis is None:
            self._redis = connect_redis(self.settings)
            self._script = self._redis.register_script(_ENQUEUE)

    async def close(self) -> None:
        """Closes the Redis connection."""
        redis, self._redis = self._redis, None
        if redis is not None and not self._borrowed:
            await redis.aclose()

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
    def redis(self) -> Redis:
        """The Redis connection.

        Raises:
            RuntimeError: Before ``connect()``.
        """
        if self._redis is None:
            raise RuntimeError("StorageJobsClient is not connected; use 'async with' or connect()")
        return self._redis

    async def enqueue(
        self, job: JobModel, *, job_id: str | None = None, defer_by: float | None = None
    ) -> JobHandle:
        """Validates and enqueues one job.

        Args:
            job: An UploadJob, CopyJob, DeleteJob, ...
            job_id: Your id for it; the same id enqueued twice runs once.
            defer_by: Seconds to wait before it may run.

        Returns:
            The handle; ``handle.enqueued`` is False if the id was already taken.

        Raises:
            JobRejectedError: If the job breaks a configured limit (nothing is enqueued).
            TypeError: If ``job`` is not a storage job.
        """
        (handle,) = await self._enqueue([(job, job_id, defer_by)])
        return handle

    async def enqueue_many(
        self,
        jobs: Sequence[JobModel],
        *,
        job_ids: Sequence[str] | None = None,
        defer_by: float | None = None,
    ) -> list[JobHandle]:
        """Validates every job, then enqueues them pipelined (one round trip per 1,000 jobs).

        Args:
            jobs: The jobs.
            job_ids: Ids for them (same length), e.g. derived ids that make re-enqueueing
                after a crash a no-op; random ids when not given.
            defer_by: Seconds to wait before they may run.

        Raises:
            JobRejectedError: If any job breaks a limit; then none is enqueued.
        """
        if job_ids is not None and len(job_ids) != len(jobs):
            raise ValueError(f"{len(jobs)} jobs but {len(job_ids)} job ids")
        ids: Sequence[str | None] = job_ids if job_ids is not None else [None] * len(jobs)
        return await self._enqueue([(job, i, defer_by) for job, i in zip(jobs, ids, strict=True)])

    async def _enqueue(
        self, items: Sequence[tuple[JobModel, str | None, float | None]]
    ) -> list[JobHandle]:
        if defer_by_bad := [d for _, _, d in items if d is not None and d < 0]:
            raise ValueError(f"defer_by must be >= 0, got {defer_by_bad[0]}")
        prepared = []
        now_ms = int(time.time() * 1000)
        for job, job_id, defer_by in items:
            spec = spec_for_job(job)
            self.limits.check(job)
            job_id = job_id or uuid.uuid4().hex
            score = now_ms + int((defer_by or 0) * 1000)
            data = encode(
                {
                    "t": 0,
                    "f": spec.function_name,
                    "a": [job.model_dump_json()],
                    "k": {},
                    "et": now_ms,
                }
            )
            ttl_ms = int(self.settings.result_ttl * 1000) + (score - now_ms)
            prepared.append((job_id, data, ttl_ms, score))
        redis, script = self.redis, self._script
        assert script is not None
        handles: list[JobHandle] = []
        for start in range(0, len(prepared), _BATCH):
            chunk = prepared[start : start + _BATCH]
            async with redis.pipeline(transaction=False) as pipe:
                for job_id, data, ttl_ms, score in chunk:
                    await script(
                        keys=[
                            self.keys.job(job_id),
                            self.keys.result(job_id),
                            self.queue_name,
                            self.keys.wake,
                        ],
                        args=[data, ttl_ms, score, job_id],
                        client=pipe,
                    )
                answers = await pipe.execute()
            handles.extend(
                JobHandle(job_id, bool(ok), self.queue_name, redis)
                for (job_id, *_), ok in zip(chunk, answers, strict=True)
            )
        return handles

    def handle(self, job_id: str) -> JobHandle:
        """A handle for a job enqueued earlier (by anyone)."""
        return JobHandle(job_id, False, self.queue_name, self.redis)

    async def status(self, job_id: str) -> JobStatus:
        """A job's status by id."""
        return await read_status(self.redis, self.queue_name, job_id)

    async def progress(self, job_id: str) -> MigrationProgress:
        """The progress of a MigrateJob or DeletePrefixJob (listed, copied, skipped, failed...).

        A job that has not started yet reads as status ``unknown`` with zero counts.
        """
        return await ProgressStore(self.redis, job_id).read()
