"""Spans of the tests' own processes, kept by the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_EXPORTER = InMemorySpanExporter()


def _provider() -> TracerProvider:
    """The process's global SDK provider (set once: OpenTelemetry refuses a second)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        mine = TracerProvider()
        mine.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(mine)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The exporter every span of this process ends in, emptied for the test."""
    _provider()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def of_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    """The finished spans of one trace."""
    return [
        s
        for s in exporter.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id
    ]


def parent_of(span: ReadableSpan, among: list[ReadableSpan]) -> ReadableSpan | None:
    """The span's parent among those given."""
    if span.parent is None:
        return None
    return next(
        (s for s in among if s.context is not None and s.context.span_id == span.parent.span_id),
        None,
    )


def named(among: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The spans of one name."""
    return [s for s in among if s.name == name]


def attribute(span: ReadableSpan, name: str) -> Any:
    """One attribute of a span (None if it has none)."""
    return None if span.attributes is None else span.attributes.get(name)
