"""The OpenTelemetry side of tracing: the only module that imports ``opentelemetry``.

Span names and attributes follow OpenTelemetry's semantic conventions: messaging for enqueue
(``send <queue>``, ``PRODUCER``) and a job's run (``process <kind>``, ``CONSUMER``); the AWS SDK's
for S3 requests (``S3.PutObject``, ``CLIENT``; ``rpc.*``, ``aws.s3.*``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["JobSpan", "RequestSpan", "Sending", "Tracer"]

T = TypeVar("T")

_SYSTEM = "storage_jobs"


class Tracer:
    """Starts the package's spans on the global tracer provider (or the one given)."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("storage_jobs", tracer_provider=provider)

    @contextmanager
    def parent(self, headers: Mapping[str, str]) -> Iterator[None]:
        """Makes a request's ``traceparent``/``tracestate`` headers the current context.

        Unless a span is current already (a server instrumented on its own made the request's
        span, itself a child of those headers): that one stays the parent.
        """
        if trace.get_current_span().get_span_context().is_valid:
            yield
            return
        token = otel_context.attach(propagate.extract(headers))
        try:
            yield
        finally:
            otel_context.detach(token)

    @contextmanager
    def sending(self, queue: str, count: int) -> Iterator[Sending]:
        """A ``PRODUCER`` span around one enqueue call, child of the current context."""
        attributes: dict[str, Any] = {
            "messaging.system": _SYSTEM,
            "messaging.operation.type": "send",
            "messaging.destination.name": queue,
        }
        if count != 1:
            attributes["messaging.batch.message_count"] = count
        with self._tracer.start_as_current_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            # No SDK set up (a non-recording span): nothing to carry, not even ``{}``.
            yield Sending(span, carrier or None)

    def job(
        self,
        carrier: object,
        *,
        job_id: str,
        kind: str,
        attempt: int,
        queue: str,
    ) -> JobSpan:
        """A started ``CONSUMER`` span for one run of a job: the child of its producer's context.

        Args:
            carrier: The envelope's trace context; a job without one (enqueued with tracing off,
                or by plain arq) starts a trace of its own.
            job_id: The job's id.
            kind: Its kind.
            attempt: Which attempt this run is (1 for the first).
            queue: The queue's name.
        """
        empty = otel_context.Context()
        parent = propagate.extract(carrier, context=empty) if isinstance(carrier, dict) else empty
        span = self._tracer.start_span(
            f"process {kind}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": _SYSTEM,
                "messaging.operation.type": "process",
                "messaging.destination.name": queue,
                "messaging.message.id": job_id,
                "storage_jobs.job.kind": kind,
                "storage_jobs.job.attempt": attempt,
            },
        )
        return JobSpan(span)

    def request(self, service: str, operation: str, bucket: Any, key: Any) -> RequestSpan:
        """A started ``CLIENT`` span for one AWS request, child of the current span."""
        attributes: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": service,
            "rpc.method": operation,
        }
        if isinstance(bucket, str):
            attributes["aws.s3.bucket"] = bucket
        if isinstance(key, str):
            attributes["aws.s3.key"] = key
        span = self._tracer.start_span(
            f"{service}.{operation}", kind=SpanKind.CLIENT, attributes=attributes
        )
        return RequestSpan(span)


class Sending:
    """An enqueue's span and the trace context its jobs carry.

    Attributes:
        carrier: ``traceparent`` (and ``tracestate``...) as the propagators wrote them; None
            when they wrote nothing.
    """

    def __init__(self, span: trace.Span, carrier: dict[str, str] | None) -> None:
        self._span = span
        self.carrier = carrier

    def enqueued(self, answers: list[tuple[str, bool]]) -> None:
        """Names the job of a one-job enqueue (its id is known once written)."""
        if len(answers) == 1:
            self._span.set_attribute("messaging.message.id", answers[0][0])


class JobSpan:
    """The span of one run of a job: current in the job's task, ended with its outcome."""

    __slots__ = ("_open", "_span")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._open = True

    def task(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Runs the job's coroutine in a task whose current span is this one.

        Everything the job does in it, and in tasks it starts, is traced below this span: its
        S3 requests, and the batches a prefix job enqueues.
        """
        context = contextvars.copy_context()
        context.run(otel_context.attach, trace.set_span_in_context(self._span))
        return asyncio.get_running_loop().create_task(coro, context=context)

    def end(
        self, outcome: str, error: BaseException | None = None, retry_in_ms: int | None = None
    ) -> None:
        """Ends the span (once; later calls do nothing).

        Args:
            outcome: ``success``, ``failed``, ``invalid``, ``cancelled``, ``retry``...
            error: What failed the run (its type, code and message are recorded, never a
                traceback); for a retry, what it is retried for.
            retry_in_ms: For a retry, when the job is due again.
        """
        if not self._open:
            return
        self._open = False
        span = self._span
        span.set_attribute("storage_jobs.job.outcome", outcome)
        facts = _error_facts(error)
        if outcome == "retry":
            if retry_in_ms is not None:
                facts["storage_jobs.retry.delay_ms"] = retry_in_ms
            span.add_event("retry", facts)
        elif outcome in ("failed", "invalid"):
            span.add_event("exception", facts)
            described = f"{facts.get('exception.type', outcome)}: {facts.get('exception.message')}"
            span.set_status(Status(StatusCode.ERROR, described[:300]))
        span.end()


class RequestSpan:
    """The span of one S3 request (its retries included)."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def answered(self, status: int | None, request_id: Any, error_code: Any) -> None:
        """Ends it with the HTTP answer (a status of 400 or more is an error)."""
        span = self._span
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if isinstance(request_id, str):
            span.set_attribute("aws.request_id", request_id)
        if status is not None and status >= 400:
            code = error_code if isinstance(error_code, str) else str(status)
            span.set_attribute("error.type", code)
            span.set_status(Status(StatusCode.ERROR, code))
        span.end()

    def failed(self, exc: BaseException) -> None:
        """Ends it with no answer (the connection failed, or timed out)."""
        self._span.set_attribute("error.type", type(exc).__name__)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:300]))
        self._span.end()


def _error_facts(error: BaseException | None) -> dict[str, Any]:
    """An error's type, code and message as span attributes (a ``JobFailure``'s own)."""
    if error is None:
        return {}
    facts: dict[str, Any] = {
        "exception.type": str(getattr(error, "error_type", None) or type(error).__name__),
        "exception.message": str(getattr(error, "message", None) or error)[:1000],
    }
    code = getattr(error, "code", None)
    if isinstance(code, str):
        facts["storage_jobs.error.code"] = code
    return facts
