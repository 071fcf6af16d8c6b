"""Runs one job: decode, check, call the handler, sort the failure into retry or dead letter."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from arq.worker import Retry
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import QueueUnavailableError
from ..jobs import (
    CopyJob,
    DeleteJob,
    DeletePrefixBatchJob,
    FailedJob,
    JobCancelled,
    JobContext,
    JobLimits,
    JobPaused,
    JobRejectedError,
    JobSpec,
    JobWaiting,
    MigrateBatchJob,
    RetryPolicy,
    UploadJob,
    is_retryable,
)
from ..queue import (
    CANCEL_MESSAGE,
    CANCELLED,
    JobFailure,
    NewJob,
    Outcome,
    Priority,
    Queue,
    decode,
    describe_validation_error,
    error_record,
    is_redis_full,
    parse_envelope,
)
from ..storage import StorageClient
from ._handlers import handler_for

if TYPE_CHECKING:
    from ..metrics import WorkerMetrics
    from ..settings import Settings

__all__ = ["WorkerRuntime"]

# A full Redis (OOM) and a failed fan-out enqueue pass too: the job retries once memory frees.
_TRANSIENT_INFRA = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    QueueUnavailableError,
)


@dataclass(frozen=True)
class WorkerRuntime:
    """Everything a worker process shares between jobs (one per process).

    Attributes:
        settings: The settings the worker was started with.
        storage: The pooled storage client.
        queue: The worker's ``Queue``: every Redis call of a job goes through it.
        log: The worker's structlog logger.
        metrics: Where outcomes, durations, bytes and keys are recorded; None for no metrics.
    """

    settings: Settings
    storage: StorageClient
    queue: Queue
    log: Any
    metrics: WorkerMetrics | None = None
    sources: dict[str, StorageClient] = field(default_factory=dict)

    @property
    def limits(self) -> JobLimits:
        """The configured job limits."""
        return self.settings.job_limits()

    @property
    def job_retry(self) -> RetryPolicy:
        """Backoff between attempts of a whole job."""
        return self.settings.retry_budget().job()

    async def execute(
        self, spec: JobSpec, ctx: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Runs one job and returns its result as JSON-ready data.

        Raises:
            Retry: For a transient failure with attempts left (arq re-queues with a delay).
            JobFailure: For a permanent failure (the job is dead-lettered first), or a cancel
                (error type ``JobCancelled``, with what the job did; never dead-lettered).
            JobPaused: For a batch of a paused prefix job that stopped part-way.
            JobWaiting: For a job to run again later (archived sources restoring).
        """
        # The dashboard's history and finished-jobs lists are written by the worker's batched
        # finish (``_finisher``) with the result: no round trip of their own per job.
        return await self._measured(spec, ctx, args, kwargs)

    async def _measured(
        self, spec: JobSpec, ctx: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        metrics = self.metrics
        if metrics is None:
            return await self._execute(spec, ctx, args, kwargs)
        started = time.monotonic()
        with metrics.running(ctx.get("enqueue_time"), ctx.get("score")):
            try:
                data = await self._execute(spec, ctx, args, kwargs)
            except (JobPaused, JobWaiting):
                raise  # no outcome: the job runs on later
            except Exception as exc:
                outcome = _outcome(exc)
                elapsed = None if outcome == "invalid" else time.monotonic() - started
                metrics.job_finished(spec.kind, outcome, elapsed)  # invalid: no run to time
                if outcome != "cancelled" and isinstance(exc, JobFailure):
                    metrics.dead_lettered(spec.kind)  # every other JobFailure was dead-lettered
                raise
        metrics.job_finished(spec.kind, "success", time.monotonic() - started)
        metrics.job_result(data)
        return data

    async def _execute(
        self, spec: JobSpec, ctx: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        job_id, attempt = str(ctx["job_id"]), int(ctx["job_try"])
        log = self.log.bind(job_id=job_id, kind=spec.kind, attempt=attempt)
        if self.metrics is not None:
            log = self.metrics.tap_log(log)  # copy handlers report copied bytes in their log
        try:
            if kwargs or len(args) != 1 or not isinstance(args[0], str):
                raise ValueError("a job takes exactly one JSON payload string")
            job = spec.model.model_validate_json(args[0])
            self.limits.check(job, payload_bytes=len(args[0].encode()))
        except (ValidationError, ValueError) as exc:
            raw = args[0].encode() if args and isinstance(args[0], str) else None
            await self._dead(
                job_id, spec, raw, exc, attempt, log, "InvalidPayload", ctx.get("priority")
            )
            raise JobFailure("InvalidPayload", _short(exc)) from exc

        budget = self.settings.retry_budget()
        context = JobContext(
            job_id=job_id,
            attempt=attempt,
            storage=self.storage,
            state=self.queue.job_state(),
            limits=self.limits,
            retry=budget.delete_key(),
            object_retry=budget.migrate_object(),
            log=log,
            enqueue=functools.partial(self._enqueue, priority=_batch_lane(ctx)),
            source=self.source,
            failed_job=self.failed_job,
            report_bucket=self.settings.report_bucket,
            report_prefix=self.settings.report_prefix,
            control=self.queue.job_control(job_id),
            relay_after_s=self.settings.job_timeout / 2,
        )
        started = time.monotonic()
        try:
            # No cancel check here: the claim refused a marked job atomically a moment ago, and
            # one more read per job would be a round trip on the hot path (jobs with safe
            # points of their own check there).
            log.info("job.start", **_summary(job))
            result = await handler_for(spec)(job, context)
        except JobCancelled as exc:
            # Not a failure: no retry, no dead letter; the result says what was done.
            log.info(  # counted by the metrics' tapped log
                "job.cancelled",
                duration_s=round(time.monotonic() - started, 4),
                **_progress_summary(exc.progress),
            )
            raise JobFailure(CANCELLED, CANCEL_MESSAGE, progress=exc.progress) from None
        except JobPaused as exc:
            # Not a failure either: the execution puts the batch back, where the claim parks it.
            log.info(
                "job.paused",
                duration_s=round(time.monotonic() - started, 4),
                **_progress_summary(exc.progress),
            )
            raise
        except JobWaiting as exc:
            log.info("job.waiting", delay_s=exc.delay_s, **_progress_summary(exc.progress))
            raise
        except Exception as exc:
            transient = is_retryable(exc) or isinstance(exc, _TRANSIENT_INFRA) or is_redis_full(exc)
            error = error_record(exc)
            if transient and self.job_retry.should_retry(attempt):
                delay = self.job_retry.delay(attempt)
                log.warning("job.retry", delay_s=round(delay, 3), **error)
                raise Retry(defer=delay) from exc
            reason = None if not isinstance(exc, JobRejectedError) else "InvalidPayload"
            await self._dead(
                job_id, spec, args[0].encode(), exc, attempt, log, reason, ctx.get("priority")
            )
            raise JobFailure(
                reason or error["error_type"], error["message"], error["code"]
            ) from exc
        log.info("job.done", duration_s=round(time.monotonic() - started, 4), **_summary(result))
        return result.model_dump(mode="json")

    async def source(self, name: str) -> StorageClient:
        """The pooled storage client of a named source profile (opened on first use).

        Raises:
            JobRejectedError: If no such profile is configured.
        """
        client = self.sources.get(name)
        if client is None:
            profile = self.settings.source_profiles.get(name)
            if profile is None:
                raise JobRejectedError(
                    "src_endpoint", f"no source profile {name!r} (STORAGE_JOBS_SOURCE_PROFILES)"
                )
            # Rate limits go by bucket name, whichever endpoint serves it.
            client = StorageClient(
                profile.storage_config(self.storage.config), limiter=self.storage.limiter
            )
            await client.connect()
            self.sources[name] = client
        return client

    async def failed_job(self, job_id: str) -> FailedJob | None:
        """How a job failed for good, or None if it has not."""
        outcome = await self.queue.stored_result(job_id)
        if outcome is None or outcome.success:
            return None
        error = outcome.error
        letter = await self.queue.dead_letters.get(job_id)
        payload = None
        if letter is not None and letter.payload_encoding == "utf-8" and letter.payload:
            payload = _payload_of(letter.payload)
        return FailedJob(
            payload=payload,
            code=error.code or error.error_type,
            message=error.message,
            cancelled=outcome.cancelled,
        )

    async def close(self) -> None:
        """Closes the storage clients (the worker's and any source profiles')."""
        for client in [self.storage, *self.sources.values()]:
            await client.disconnect()
        self.sources.clear()

    async def _enqueue(
        self, items: Sequence[tuple[BaseModel, str]], *, priority: Priority = "bulk"
    ) -> list[bool]:
        """Enqueues a prefix job's batches: in ``bulk`` unless the prefix job was given a lane."""
        answers = await self.queue.enqueue_many(
            [NewJob(job, job_id, priority=priority) for job, job_id in items],  # type: ignore[arg-type]
            limits=self.limits,
        )
        return [enqueued for _, enqueued in answers]

    async def _dead(
        self,
        job_id: str,
        spec: JobSpec,
        raw: bytes | None,
        exc: BaseException,
        attempt: int,
        log: Any,
        reason: str | None,
        priority: str | None = None,
    ) -> None:
        error = error_record(exc)
        log.error("job.failed", dead_letter=True, **{**error, "message": _short(exc)})
        await self.queue.dead_letters.add(
            job_id=job_id,
            function=spec.function_name,
            raw_payload=raw,
            error_type=reason or error["error_type"],
            code=error["code"],
            message=str(error["message"]),
            attempts=attempt,
            priority=priority,
        )


def _outcome(exc: BaseException) -> Outcome:
    """The metrics outcome of an attempt that raised."""
    if isinstance(exc, Retry):
        return "retry"
    if isinstance(exc, JobFailure) and exc.error_type == "InvalidPayload":
        return "invalid"
    if isinstance(exc, JobFailure) and exc.error_type == CANCELLED:
        return "cancelled"
    return "failed"


def _progress_summary(progress: dict[str, Any]) -> dict[str, Any]:
    """Loggable counts of a cancelled job's progress (key lists become their lengths)."""
    return {k: len(v) if isinstance(v, list) else v for k, v in progress.items()}


def _payload_of(kept: str) -> str | None:
    """The job payload inside a dead letter.

    The runtime keeps the payload itself; arq-level failures keep the whole arq job, whose first
    argument is the payload.
    """
    try:
        data = decode(kept.encode())
    except ValueError:
        return kept
    if "f" not in data or "a" not in data:
        return kept  # the payload itself
    try:
        return parse_envelope(kept.encode()).payload
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
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
    if isinstance(obj, MigrateBatchJob | DeletePrefixBatchJob):
        size = len(obj.objects) if isinstance(obj, MigrateBatchJob) else len(obj.keys)
        return {"migration_id": obj.migration_id, "batch": obj.batch, "keys": size}
    data = obj.model_dump()
    if isinstance(data.get("failed"), list):
        data["failed"] = len(data["failed"])
    return data


def _batch_lane(ctx: dict[str, Any]) -> Priority:
    """The lane of a prefix job's batches: its own, else bulk.

    A plain arq worker (``arq storage_jobs.worker.WorkerSettings``) reads arq's queue only, the
    normal lane, and sets no ``priority`` in ctx: its batches must go there or never run.
    """
    if "priority" not in ctx:
        return "normal"
    return cast("Priority", ctx["priority"] or "bulk")
