"""S3 request spans open and close with the call, including calls botocore refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import EndpointConnectionError, ParamValidationError
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from storage_jobs.storage._request_spans import trace_requests
from tests.tracing.conftest import attribute, named


class _Open(SpanProcessor):
    """The names of the spans started and not yet ended."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.names[span.get_span_context().span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.names.pop(span.context.span_id, None)


_OPEN = _Open()


@pytest.fixture
def open_spans(spans: InMemorySpanExporter) -> Iterator[_Open]:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if _OPEN not in provider._active_span_processor._span_processors:  # once per process
        provider.add_span_processor(_OPEN)
    _OPEN.names.clear()
    yield _OPEN
    _OPEN.names.clear()


async def test_a_refused_call_leaves_no_span_open_and_a_failed_one_ends(
    open_spans: _Open, spans: InMemorySpanExporter
) -> None:
    config = AioConfig(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing answers
        aws_access_key_id="test",
        aws_secret_access_key="test-secret",
        config=config,
    ) as client:
        trace_requests(client)
        with pytest.raises(ParamValidationError):
            await client.put_object(Bucket="b")  # no Key: refused before any request
        assert open_spans.names == {}
        with pytest.raises(EndpointConnectionError):
            await client.head_object(Bucket="b", Key="k")
    assert open_spans.names == {}
    (head,) = named(list(spans.get_finished_spans()), "S3.HeadObject")
    assert attribute(head, "aws.s3.bucket") == "b" and attribute(head, "aws.s3.key") == "k"
    assert head.status.status_code == StatusCode.ERROR
    assert not named(list(spans.get_finished_spans()), "S3.PutObject")
