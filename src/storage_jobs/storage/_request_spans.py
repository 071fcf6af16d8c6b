"""A span per S3 request, hooked on the client's own events (``StorageConfig.tracing``).

``before-parameter-build`` notes the call's bucket and key (still plain parameters there) in
botocore's per-call context; ``before-call``, which comes once the parameters are validated,
starts the span, so a call botocore refuses (``ParamValidationError``) leaves no span open;
``after-call`` ends it with the HTTP status, ``after-call-error`` with the connection's failure.
One span covers a call's retries, as the AWS SDK conventions have it. It is a child of whatever
span is current: a job's, in a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..tracing import tracer_for

if TYPE_CHECKING:
    from ..tracing import Tracer

__all__ = ["trace_requests"]

_SPAN = "storage_jobs_span"
"""The key of a call's span in botocore's request context."""
_TARGET = "storage_jobs_target"
"""The key of a call's bucket and key in botocore's request context, until its span starts."""


def trace_requests(client: Any, service: str = "S3") -> None:
    """Registers the span hooks on an aiobotocore client's event system.

    Raises:
        TracingUnavailableError: If OpenTelemetry is not installed.
    """
    tracer = tracer_for(True)
    assert tracer is not None
    events = client.meta.events
    events.register("before-parameter-build.s3", _note_target)
    events.register("before-call.s3", _start(tracer, service))
    events.register("after-call.s3", _answered)
    events.register("after-call-error.s3", _failed)


def _note_target(params: Any, context: Any, **_: Any) -> None:
    if isinstance(context, dict) and isinstance(params, dict):
        context[_TARGET] = (params.get("Bucket"), params.get("Key"))


def _start(tracer: Tracer, service: str) -> Any:
    def before_call(model: Any, context: Any, **_: Any) -> None:
        if isinstance(context, dict):
            bucket, key = context.pop(_TARGET, (None, None))
            context[_SPAN] = tracer.request(service, model.name, bucket, key)

    return before_call


def _answered(http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
    span = context.pop(_SPAN, None) if isinstance(context, dict) else None
    if span is None:
        return
    parsed = parsed if isinstance(parsed, dict) else {}
    metadata = parsed.get("ResponseMetadata") or {}
    error = parsed.get("Error") or {}
    span.answered(
        getattr(http_response, "status_code", None), metadata.get("RequestId"), error.get("Code")
    )


def _failed(exception: BaseException, context: Any, **_: Any) -> None:
    span = context.pop(_SPAN, None) if isinstance(context, dict) else None
    if span is not None:
        span.failed(exception)
