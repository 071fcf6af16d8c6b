"""Running one claimed job: read arq's envelope, run its handler under the job timeout, finish.

The claim (``Queue.claim``) has taken the job's lease, bumped its attempt counter and read its
envelope. From there:

- a job that cannot start (payload expired or unreadable, function not in the catalog, more
  attempts than the retry budget allows) is dead-lettered (``_failures``) and finished failed;
- otherwise its handler runs in a task of its own with the job's ctx (``job_id``, ``job_try``,
  ``enqueue_time``, ``score``, ``lane``, ``priority``, ``storage_jobs``, ``redis``) under the job
  timeout. A lost lease or a shutdown cancels that task: the job is left to its next holder;
- arq's ``Retry`` puts the job back with its delay; the timeout fails it with a dead letter;
- ``JobPaused`` (a batch of a paused prefix job, stopped part-way) puts it back at once, its
  attempt given back; the claim then parks it with the prefix job's other batches;
  ``JobWaiting`` (archived sources restoring) puts it back due after its delay, likewise;
- the result, in arq's format (arq's ``Job`` API reads it), goes out in the worker's batched
  finish (``_finisher``) with the outcome the dashboard's history counts. The job's slot frees
  as its finish starts (``finishing``: no S3 work is left), so the next job does not wait for
  the finish window and round trip; its task, and its lease's renewal, last until the write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from arq.worker import Retry

from ..jobs import JobPaused, JobWaiting, spec_for_name
from ..queue import (
    CANCELLED,
    EXPIRED,
    Claimed,
    ErrorRecord,
    JobFailure,
    Outcome,
    build_result,
    error_record,
    peek_priority,
)
from ..tracing import tracer_for
from ._envelope import Envelope, now_ms, read_envelope
from ._failures import keep_timed_out, keep_unrun
from ._finisher import Finish, Finisher

if TYPE_CHECKING:
    from ..metrics import WorkerMetrics
    from ..queue import Queue
    from ..settings import Settings
    from ..tracing import JobSpan
    from ._runtime import WorkerRuntime

__all__ = ["Execution"]


class Execution:
    """Runs one worker's claimed jobs and counts their ends for its heartbeat."""

    def __init__(
        self,
        settings: Settings,
        *,
        queue: Callable[[], Queue],
        finisher: Finisher,
        ctx: dict[str, Any],
        event: Callable[..., None],
        metrics: Callable[[], WorkerMetrics | None],
    ) -> None:
        """Builds it.

        Args:
            settings: The worker's settings (queue, job timeout, result TTL, retry budget).
            queue: Returns the worker's ``Queue`` (its leases forget a finished job).
            finisher: The worker's batched finish.
            ctx: The ctx every job's starts from (``redis``, ``storage_jobs``).
            event: Logs a structured event: ``event(level, name, **fields)``.
            metrics: Returns the worker's metrics, if any.
        """
        self.queue_name = settings.queue_name
        self.timeout_s = settings.job_timeout
        self.result_ttl_ms = int(settings.result_ttl * 1000)
        # arq's count: runs of a job, crashes included (one more than the job's own attempts).
        self.max_tries = settings.retry_budget().crash_attempts
        self._queue = queue
        self.finisher = finisher
        self._ctx = ctx
        self._event = event
        self._metrics = metrics
        self.complete = 0
        self.failed = 0
        self.retried = 0
        self._handlers: dict[str, asyncio.Future[Any]] = {}
        # Jobs whose handler has ended and whose finish is being written: their slot is free
        # (no S3 work left), while their task, and so their lease's renewal, goes on.
        self.finishing: set[str] = set()
        self.on_finishing: Callable[[], None] = lambda: None
        # Each run a span (child of the producer's), when tracing is on; None costs nothing.
        self.tracer = tracer_for(settings.tracing)

    def cancel(self, job_id: str) -> bool:
        """Cancels a running job's handler (its job is left to the lease's next holder)."""
        handler = self._handlers.get(job_id)
        if handler is None or handler.done():
            return False
        handler.cancel()
        return True

    async def run(self, claimed: Claimed) -> None:
        """Runs a claimed job to its finish (returns once the finish is durable)."""
        start_ms = now_ms()
        raw = claimed.payload
        if not raw:
            await self._unrun(claimed, None, "job expired", start_ms, invalid=False)
            return
        try:
            envelope = read_envelope(raw)
        except ValueError as exc:
            await self._unrun(claimed, None, str(exc), start_ms, invalid=True)
            return
        spec = spec_for_name(envelope.function)
        if spec is None:
            message = f"function {envelope.function!r} not found"
            await self._unrun(claimed, envelope, message, start_ms, invalid=False)
            return
        job_try = claimed.job_try
        if envelope.tries > job_try:
            # A job re-enqueued with its attempts so far (arq's "t"): its counter goes on there.
            job_try = envelope.tries
            await self._queue().set_attempts(claimed.job_id, job_try)
        if job_try > self.max_tries:
            message = f"max {self.max_tries} retries exceeded"
            await self._unrun(claimed, envelope, message, start_ms, invalid=False, tries=job_try)
            return
        runtime: WorkerRuntime = self._ctx["storage_jobs"]
        ctx = {
            **self._ctx,
            "job_id": claimed.job_id,
            "job_try": job_try,
            "enqueue_time": datetime.fromtimestamp(envelope.enqueue_ms / 1000, tz=UTC),
            "score": claimed.score,
            "lane": claimed.lane,
            # A prefix job's batches go to this lane (None: bulk); small envelopes only carry it.
            "priority": peek_priority(raw),
        }
        span: JobSpan | None = None
        if self.tracer is not None:
            span = self.tracer.job(
                envelope.trace,
                job_id=claimed.job_id,
                kind=spec.kind,
                attempt=job_try,
                queue=self.queue_name,
            )
        start_ms = now_ms()
        running = runtime.execute(spec, ctx, envelope.args, envelope.kwargs)
        handler = asyncio.ensure_future(running) if span is None else span.task(running)
        self._handlers[claimed.job_id] = handler
        try:
            value = await asyncio.wait_for(handler, self.timeout_s)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the worker stops hard: the lease lapses and the next holder runs it
            # Its handler was cancelled: a lost lease (the new holder owns the job) or the end
            # of the shutdown grace (re-queued now, for another worker).
            self.retried += 1
            await self._finish(claimed, False, None, None, "retry", span)
        except JobPaused:
            # A batch of a paused prefix job stopped at a safe point: back on the queue at its
            # own score (the claim parks it until the resume), this run not counted as an
            # attempt. The lease is still ours, so no claim bumps the counter meanwhile.
            await self._queue().set_attempts(claimed.job_id, max(job_try - 1, 0))
            await self._finish(claimed, False, None, None, "retry", span)
        except JobWaiting as exc:
            # Waiting on something outside: deferred like a retry, its attempt given back too.
            await self._queue().set_attempts(claimed.job_id, max(job_try - 1, 0))
            delay_ms = int(exc.delay_s * 1000)
            incr = delay_ms + (now_ms() - claimed.score)
            await self._finish(claimed, False, None, incr, "retry", span, exc, delay_ms)
        except Retry as exc:
            self.retried += 1
            incr = None
            if exc.defer_score:
                # The finish restores the claimed score: the job becomes due defer ms from now.
                incr = exc.defer_score + (now_ms() - claimed.score)
            await self._finish(
                claimed, False, None, incr, "retry", span, exc.__cause__, exc.defer_score
            )
        except TimeoutError:
            self.failed += 1
            message = f"cancelled after the job timeout ({self.timeout_s:g} s)"
            record = ErrorRecord(error_type="TimeoutError", message=message).as_json()
            result = envelope.result(
                claimed.job_id, self.queue_name, job_try, start_ms, False, record
            )
            await self._dead_letter_timeout(claimed, raw, envelope.function, job_try, message)
            await self._finish(claimed, True, result, None, "failed", span, TimeoutError(message))
        except Exception as exc:
            self.failed += 1
            if not isinstance(exc, JobFailure):
                # The runtime turns every handler failure into Retry or JobFailure: this one
                # escaped it (a bug, or its dead letter's write failed).
                said = f"{type(exc).__name__}: {exc}"[:500]
                self._event("error", "job.error", job_id=claimed.job_id, error=said)
            record = error_record(exc)
            result = envelope.result(
                claimed.job_id, self.queue_name, job_try, start_ms, False, record
            )
            await self._finish(claimed, True, result, None, _outcome(exc), span, exc)
        else:
            self.complete += 1
            result = envelope.result(
                claimed.job_id, self.queue_name, job_try, start_ms, True, value
            )
            await self._finish(claimed, True, result, None, "success", span)
        finally:
            self._handlers.pop(claimed.job_id, None)
            if span is not None:
                span.end("interrupted")  # the worker stopped hard (else it has ended: no-op)

    async def _finish(
        self,
        claimed: Claimed,
        finish: bool,
        result: bytes | None,
        incr_score: int | None,
        outcome: Outcome,
        span: JobSpan | None = None,
        error: BaseException | None = None,
        retry_in_ms: int | None = None,
    ) -> None:
        """Finishes in the batched write, unless another worker holds the job now.

        The run's span (when traced) ends here with its outcome; ``error`` is what failed it
        (or what it is retried for), ``retry_in_ms`` when a retry is due.
        """
        if span is not None:
            span.end(outcome, error, retry_in_ms)
        lost = self._queue().forget(claimed.job_id)
        if lost and not finish:
            return  # the new holder owns the lease and the job's keys now
        item = Finish(
            job_id=claimed.job_id,
            finish=finish,
            result_data=result,
            result_ttl_ms=self.result_ttl_ms,
            incr_score=incr_score,
            outcome=outcome,
            score=claimed.score,
            lane=claimed.lane,
        )
        self.finishing.add(claimed.job_id)
        self.on_finishing()
        try:
            # Shielded: a worker stopping hard mid-write still lets the batch go out.
            await asyncio.shield(self.finisher.finish(item))
        finally:
            self.finishing.discard(claimed.job_id)

    async def expire(self, claimed: Claimed) -> None:
        """Finishes a job the claim found past its expiry, without running it (no dead letter)."""
        now = now_ms()
        try:
            envelope: Envelope | None = read_envelope(claimed.payload or b"")
        except ValueError:
            envelope = None
        function = envelope.function if envelope is not None else None
        spec = spec_for_name(function) if function else None
        kind = spec.kind if spec is not None else "unknown"
        self._event("info", "job.expired", job_id=claimed.job_id, kind=kind)
        if (metrics := self._metrics()) is not None:
            metrics.job_finished(kind, "expired")
        result = build_result(
            job_id=claimed.job_id,
            queue=self.queue_name,
            function=function,
            tries=0,
            enqueue_ms=envelope.enqueue_ms if envelope is not None else now,
            start_ms=now,
            finish_ms=now,
            error=ErrorRecord(error_type=EXPIRED, message="not started before it expired"),
        )
        await self._finish(claimed, True, result, None, "expired")

    async def _unrun(
        self,
        claimed: Claimed,
        envelope: Envelope | None,
        message: str,
        start_ms: int,
        *,
        invalid: bool,
        tries: int | None = None,
    ) -> None:
        """Dead-letters and finishes a job that could not start."""
        self.failed += 1
        function = envelope.function if envelope is not None else None
        error_type = "InvalidPayload" if invalid else "JobFailed"
        attempts = claimed.job_try if tries is None else tries
        await keep_unrun(
            self._queue(),
            job_id=claimed.job_id,
            raw=claimed.payload,
            function=function,
            error_type=error_type,
            message=message,
            attempts=attempts,
        )
        self._event(
            "error",
            "job.dead_lettered",
            job_id=claimed.job_id,
            error_type=error_type,
            message=message,
        )
        outcome: Outcome = "invalid" if invalid else "failed"
        if (metrics := self._metrics()) is not None:
            spec = spec_for_name(function) if function else None
            kind = spec.kind if spec is not None else "unknown"
            metrics.job_finished(kind, outcome)
            metrics.dead_lettered(kind)
        result = build_result(
            job_id=claimed.job_id,
            queue=self.queue_name,
            function=function,
            tries=attempts,
            enqueue_ms=envelope.enqueue_ms if envelope is not None else start_ms,
            start_ms=start_ms,
            finish_ms=now_ms(),
            error=ErrorRecord(error_type=error_type, message=message),
        )
        await self._finish(claimed, True, result, None, outcome)

    async def _dead_letter_timeout(
        self, claimed: Claimed, raw: bytes, function: str, attempts: int, message: str
    ) -> None:
        kept = await keep_timed_out(
            self._queue(),
            job_id=claimed.job_id,
            raw=raw,
            function=function,
            message=message,
            attempts=attempts,
        )
        if kept:
            self._event(
                "error",
                "job.failed",
                job_id=claimed.job_id,
                error_type="TimeoutError",
                message=message,
                attempts=attempts,
                dead_letter=True,
            )


def _outcome(exc: BaseException) -> Outcome:
    """What a failed attempt ended in, for the dashboard's history."""
    if isinstance(exc, JobFailure) and exc.error_type == "InvalidPayload":
        return "invalid"
    if isinstance(exc, JobFailure) and exc.error_type == CANCELLED:
        return "cancelled"
    return "failed"
