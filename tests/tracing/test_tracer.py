"""The tracer's own rules, without servers."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from storage_jobs.tracing import Tracer, tracer_for


def test_off_is_none() -> None:
    """Tracing off: no tracer at all (callers check for None and do nothing else)."""
    assert tracer_for(False) is None
    assert isinstance(tracer_for(True), Tracer)


def test_a_carrier_only_from_a_recording_span(spans: InMemorySpanExporter) -> None:
    """No SDK behind the API: the enqueue carries nothing (not ``{}``); with one, traceparent."""
    with Tracer(trace.NoOpTracerProvider()).sending("q", 1) as sending:
        assert sending.carrier is None
    with Tracer().sending("q", 2) as sending:
        assert sending.carrier is not None
        assert sending.carrier["traceparent"].startswith("00-")
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 2
