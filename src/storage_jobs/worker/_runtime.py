"""Runs one job: decode, check, call the handler, sort the failure into retry or dead letter."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.worker import Retry
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..deadletters import DeadLetterStore
from ..jobs import (
    CopyJob,
    DeleteJob,
    JobContext,
    JobLimits,
    JobRejectedError,
    JobSpec,
    RetryPolicy,
    UploadJob,
    is_retryable,
)
from ._codec import JobFailure, error_record

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..settings import Settings
    from ..storage import StorageClient

__all__ = ["WorkerRuntime"]

_TRANSIENT_INFRA = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class WorkerRuntime:
    """Everything a worker process shares between jobs (one per process).

    Attributes:
        settings: The settings the worker was started with.
        storage: The pooled storage client.
        redis: The worker's Redis connection.
        log: The worker's structlog logger.
    """

    settings: Settings
    storage: StorageClient
    redis: Redis
    log: Any

    @property
    def limits(self) -> JobLimits:
        """The configured job limits."""
        s = self.settings
        return JobLimits(
            upload_roots=tuple(s.upload_roots),
            max_inline_bytes=s.max_inline_bytes,
            max_delete_keys=s.max_delete_keys,
        )

    @property
    def job_retry(self) -> RetryPolicy:
        """Backoff between attempts of a whole job."""
        s = self.settings
        return RetryPolicy(s.max_tries, s.retry_base_delay, s.retry_max_delay)

    @property
    def key_retry(self) -> RetryPolicy:
        """Backoff between per-key delete rounds."""
        s = self.settings
        return RetryPolicy(s.delete_max_attempts, s.retry_base_delay, s.retry_max_delay)

    @property
    def dead_letters(self) -> DeadLetterStore:
        """This queue's dead letters."""
        return DeadLetterStore(self.redis, self.settings.queue_name)

    async def execute(
        self, spec: JobSpec, ctx: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Runs one job and returns its result as JSON-ready data.

        Raises:
            Retry: For a transient failure with attempts left (arq re-queues with a delay).
            JobFailure: For a permanent failure; the job is dead-lettered first.
        """
        job_id, attempt = str(ctx["job_id"]), int(ctx["job_try"])
        log = self.log.bind(job_id=job_id, kind=spec.kind, attempt=attempt)
        try:
            if kwargs or len(args) != 1 or not isinstance(args[0], str):
                raise ValueError("a job takes exactly one JSON payload string")
            job = spec.model.model_validate_json(args[0])
            self.limits.check(job)
        except (ValidationError, ValueError) as exc:
            raw = args[0].encode() if args and isinstance(args[0], str) else None
            await self._dead(job_id, spec, raw, exc, attempt, log, "InvalidPayload")
            raise JobFailure("InvalidPayload", _short(exc)) from exc

        context = JobContext(
            job_id=job_id,
            attempt=attempt,
            storage=self.storage,
            redis=self.redis,
            limits=self.limits,
            retry=self.key_retry,
            log=log,
            enqueue=self._enqueue,
        )
        started = time.monotonic()
        log.info("job.start", **_summary(job))
        try:
            result = await spec.handler(job, context)
        except Exception as exc:
            transient = is_retryable(exc) or isinstance(exc, _TRANSIENT_INFRA)
            error = error_record(exc)
            if transient and self.job_retry.should_retry(attempt):
                delay = self.job_retry.delay(attempt)
                log.warning("job.retry", delay_s=round(delay, 3), **error)
                raise Retry(defer=delay) from exc
            reason = None if not isinstance(exc, JobRejectedError) else "InvalidPayload"
            await self._dead(job_id, spec, args[0].encode(), exc, attempt, log, reason)
            raise JobFailure(
                reason or error["error_type"], error["message"], error["code"]
            ) from exc
        log.info("job.done", duration_s=round(time.monotonic() - started, 4), **_summary(result))
        return result.model_dump(mode="json")

    async def _enqueue(self, items: Sequence[tuple[BaseModel, str]]) -> list[bool]:
        # Imported here: the client package imports the worker's codec.
        from ..client import StorageJobsClient

        client = StorageJobsClient.on_connection(self.redis, self.settings)
        handles = await client.enqueue_many(
            [job for job, _ in items],  # type: ignore[misc]
            job_ids=[job_id for _, job_id in items],
        )
        return [h.enqueued for h in handles]

    async def _dead(
        self,
        job_id: str,
        spec: JobSpec,
        raw: bytes | None,
        exc: BaseException,
        attempt: int,
        log: Any,
        reason: str | None,
    ) -> None:
        error = error_record(exc)
        log.error("job.failed", dead_letter=True, **{**error, "message": _short(exc)})
        await self.dead_letters.add(
            job_id=job_id,
            function=spec.function_name,
            raw_payload=raw,
            error_type=reason or error["error_type"],
            code=error["code"],
            message=str(error["message"]),
            attempts=attempt,
        )


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        # Field locations and messages only: input values may be megabytes of inline data.
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<payload>'}: {e['msg']}"
            for e in exc.errors()[:20]
        )
    return str(exc)[:2000]


def _summary(obj: BaseModel) -> dict[str, Any]:
    """Loggable facts of a job or result: buckets, keys, counts, bytes; never inline data."""
    if isinstance(obj, UploadJob):
        size = len(obj.data) if obj.data is not None else None
        return {
            "bucket": obj.bucket,
            "key": obj.key,
            "bytes": size,
            "from_path": obj.path is not None,
        }
    if isinstance(obj, CopyJob):
        return {
            "bucket": obj.src_bucket,
            "key": obj.src_key,
            "dst_bucket": obj.dst_bucket or obj.src_bucket,
            "dst_key": obj.dst_key,
        }
    if isinstance(obj, DeleteJob):
        return {"bucket": obj.bucket, "keys": len(obj.keys)}
    data = obj.model_dump(exclude={"failed"})
    if "failed" in type(obj).model_fields:
        data["failed"] = len(getattr(obj, "failed", []))
    return data
