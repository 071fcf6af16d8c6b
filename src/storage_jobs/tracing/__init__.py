"""Tracing with OpenTelemetry: the ``otel`` extra, on with ``STORAGE_JOBS_TRACING=true``.

Off (the default), nothing here imports ``opentelemetry`` and every caller holds ``None`` for
its tracer: one ``is None`` check is all a job pays. On, ``tracer_for`` loads ``_otel`` (the
only module that imports it), and then:

- an enqueue is a ``PRODUCER`` span whose W3C context (``traceparent``, ``tracestate``, as the
  configured propagators write them) rides in each job's envelope (``TRACE_FIELD``);
- a worker's run of a job is a ``CONSUMER`` span, child of that context;
- each S3 request the job makes is a ``CLIENT`` span, child of the job's (``storage``'s
  request hooks).

Spans go to the process's global tracer provider (``opentelemetry.trace``): the application
sets it up, and its exporter, as for any instrumented library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import StorageJobsError

if TYPE_CHECKING:
    from ._otel import JobSpan, Tracer

__all__ = [
    "TRACE_FIELD",
    "JobSpan",
    "Tracer",
    "TracingUnavailableError",
    "tracer_for",
]

TRACE_FIELD = "tc"
"""The job envelope's field holding the producer's trace context (absent when tracing is off);
arq reads only its own fields, so a plain arq worker ignores it."""


class TracingUnavailableError(StorageJobsError, RuntimeError):
    """Tracing is on, but OpenTelemetry's API is not installed (the ``otel`` extra)."""


def tracer_for(enabled: bool) -> Tracer | None:
    """The tracer when tracing is on, else None (and nothing of OpenTelemetry is imported).

    Raises:
        TracingUnavailableError: If it is on and ``opentelemetry-api`` is missing.
    """
    if not enabled:
        return None
    try:
        from ._otel import Tracer
    except ImportError as exc:
        raise TracingUnavailableError(
            "STORAGE_JOBS_TRACING is on but OpenTelemetry is not installed: "
            "install the extra, `pip install 'storage-jobs[otel]'`"
        ) from exc
    return Tracer()


def __getattr__(name: str) -> Any:
    if name not in ("JobSpan", "Tracer"):  # the types of what ``tracer_for`` gives
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}._otel"), name)
