"""One trace from enqueue to the S3 request: producer span -> job span -> S3 span.

In-process workers on real Redis and SeaweedFS, tracing on (``STORAGE_JOBS_TRACING``), spans
kept by the SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from storage_jobs.client import JobFailedError, StorageJobsClient, SyncStorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.jobs import CopyJob, DeletePrefixJob, UploadJob
from storage_jobs.settings import Settings
from tests.fixtures_e2e import fill, wait_until
from tests.workers import StartInProcess

from .conftest import attribute, named, of_trace, parent_of

pytestmark = pytest.mark.integration

Spans = Callable[[], Awaitable[list[ReadableSpan]]]


def traced(settings: Settings) -> Settings:
    """The producer's settings with tracing on."""
    return settings.model_copy(update={"tracing": True})


@pytest.mark.parametrize("layout", ["one", "sharded"], indirect=True)
async def test_one_trace_from_enqueue_to_the_s3_request(
    spans: InMemorySpanExporter,
    start_in_process: StartInProcess,
    settings: Settings,
    bucket: str,
) -> None:
    """The producer's span is the enqueue's parent, the job's run its child, PutObject below."""
    await start_in_process(STORAGE_JOBS_TRACING="true")
    async with StorageJobsClient(settings=traced(settings)) as jobs:
        with trace.get_tracer("test").start_as_current_span("web request") as request:
            handle = await jobs.enqueue(UploadJob(bucket=bucket, key="a.txt", data=b"hello"))
        await handle.result(timeout=30)
    trace_id = request.get_span_context().trace_id

    async def job_span_ended() -> bool:
        return bool(named(of_trace(spans, trace_id), "process upload"))

    await wait_until(job_span_ended, timeout=30)
    mine = of_trace(spans, trace_id)
    (send,) = named(mine, f"send {settings.queue_name}")
    (job,) = named(mine, "process upload")
    (put,) = named(mine, "S3.PutObject")
    assert parent_of(send, mine) is not None
    assert parent_of(send, mine).name == "web request"  # type: ignore[union-attr]
    assert parent_of(job, mine) is send
    assert parent_of(put, mine) is job
    assert (send.kind, job.kind, put.kind) == (
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.CLIENT,
    )
    assert send.attributes is not None and job.attributes is not None
    assert send.attributes["messaging.message.id"] == handle.job_id
    assert dict(job.attributes) | {} == {
        "messaging.system": "storage_jobs",
        "messaging.operation.type": "process",
        "messaging.destination.name": settings.queue_name,
        "messaging.message.id": handle.job_id,
        "storage_jobs.job.kind": "upload",
        "storage_jobs.job.attempt": 1,
        "storage_jobs.job.outcome": "success",
    }
    assert put.attributes is not None
    assert {k: put.attributes.get(k) for k in _S3_ATTRIBUTES} == {
        "rpc.system": "aws-api",
        "rpc.service": "S3",
        "rpc.method": "PutObject",
        "aws.s3.bucket": bucket,
        "aws.s3.key": "a.txt",
        "http.response.status_code": 200,
    }
    assert job.status.status_code is StatusCode.UNSET


_S3_ATTRIBUTES = (
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "aws.s3.bucket",
    "aws.s3.key",
    "http.response.status_code",
)


async def test_a_failed_job_is_an_error_and_a_retry_an_event(
    spans: InMemorySpanExporter,
    start_in_process: StartInProcess,
    settings: Settings,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """S3 answers SlowDown once: a retry event; a missing source: the job's span is an error."""
    fault_proxy.rules = FaultRules(slowdown_rate=1.0, methods=frozenset({"PUT"}))
    await start_in_process(
        STORAGE_JOBS_TRACING="true",
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url,
        STORAGE_JOBS_S3_MAX_ATTEMPTS="1",
    )
    async with StorageJobsClient(settings=traced(settings)) as jobs:
        slowed = await jobs.enqueue(UploadJob(bucket=bucket, key="slow.txt", data=b"x"))

        async def retried() -> bool:
            return any(
                attribute(s, "storage_jobs.job.outcome") == "retry"
                for s in named(list(spans.get_finished_spans()), "process upload")
            )

        await wait_until(retried, timeout=30)
        fault_proxy.rules = FaultRules()
        await slowed.result(timeout=30)
        missing = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="gone", dst_key="k"))
        with pytest.raises(JobFailedError):
            await missing.result(timeout=30)

    finished = list(spans.get_finished_spans())
    first, second = sorted(
        (
            s
            for s in named(finished, "process upload")
            if attribute(s, "messaging.message.id") == slowed.job_id
        ),
        key=lambda s: int(attribute(s, "storage_jobs.job.attempt")),
    )
    assert first.parent == second.parent  # both runs are children of the one enqueue
    (event,) = first.events
    assert event.name == "retry"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "StorageBackendError"
    assert attribute(second, "storage_jobs.job.outcome") == "success"
    slow_puts = [
        s
        for s in named(finished, "S3.PutObject")
        if attribute(s, "http.response.status_code") == 503
    ]
    assert slow_puts
    assert slow_puts[0].status.status_code is StatusCode.ERROR
    assert attribute(slow_puts[0], "error.type") == "SlowDown"
    (failed,) = [
        s
        for s in named(finished, "process copy")
        if attribute(s, "messaging.message.id") == missing.job_id
    ]
    assert failed.status.status_code is StatusCode.ERROR
    assert attribute(failed, "storage_jobs.job.outcome") == "failed"


async def test_a_prefix_jobs_batches_are_traced_below_it(
    spans: InMemorySpanExporter,
    start_in_process: StartInProcess,
    settings: Settings,
    seaweedfs: object,
    bucket: str,
) -> None:
    """Each batch a prefix delete fans out runs in the prefix job's trace, below its run."""
    await fill(seaweedfs, bucket, [f"tmp/{i}" for i in range(5)])  # type: ignore[arg-type]
    await start_in_process(STORAGE_JOBS_TRACING="true")
    async with StorageJobsClient(settings=traced(settings)) as jobs:
        with trace.get_tracer("test").start_as_current_span("cleanup") as request:
            handle = await jobs.enqueue(DeletePrefixJob(bucket=bucket, prefix="tmp/", batch_size=2))
        result = await handle.result(timeout=60)
    assert result.deleted == 5
    trace_id = request.get_span_context().trace_id

    async def parent_ended() -> bool:
        return any(
            attribute(s, "storage_jobs.job.outcome") == "success"
            for s in named(of_trace(spans, trace_id), "process delete_prefix")
        )

    await wait_until(parent_ended, timeout=30)
    mine = of_trace(spans, trace_id)
    parents = named(mine, "process delete_prefix")
    batches = named(mine, "process delete_prefix_batch")
    assert len(batches) >= 3  # 5 keys, 2 a batch
    for batch in batches:
        send = parent_of(batch, mine)
        assert send is not None and send.kind is SpanKind.PRODUCER
        assert parent_of(send, mine) in parents  # the fan-out enqueued it from the job's run
        deletes = [s for s in named(mine, "S3.DeleteObjects") if parent_of(s, mine) is batch]
        assert len(deletes) == 1


async def test_the_sync_clients_caller_span_is_the_enqueues_parent(
    spans: InMemorySpanExporter, settings: Settings, bucket: str
) -> None:
    """``SyncStorageJobsClient`` enqueues on a loop of its own: the caller's span still leads.

    (``run_coroutine_threadsafe`` starts the enqueue's task in a copy of the caller's context.)
    """

    def produce() -> int:
        with (
            SyncStorageJobsClient(settings=traced(settings)) as jobs,
            trace.get_tracer("test").start_as_current_span("flask view") as view,
        ):
            jobs.enqueue(UploadJob(bucket=bucket, key="sync.txt", data=b"x"))
        return view.get_span_context().trace_id

    trace_id = await asyncio.to_thread(produce)
    mine = of_trace(spans, trace_id)
    (send,) = named(mine, f"send {settings.queue_name}")
    assert parent_of(send, mine) is named(mine, "flask view")[0]
